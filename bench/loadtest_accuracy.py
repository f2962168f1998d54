"""Benchmark: are `gpufleet loadtest`'s TTFT and ITL percentiles true to the server?

Starts the local vLLM simulator with a fixed, jitter-free TTFT and ITL and
runs the real command an SRE runs (``gpufleet loadtest --host URL --users N
--duration S --json PATH --save-run PATH``) against it at each concurrency
level. The truth is what the server itself recorded for the very same
requests (``GET /sim/requests``, matched by ``x-request-id``): TTFT = write
time of the first content chunk minus the request's arrival, ITL = gaps
between chunk writes. A busy server is late too, so the truth is what it
actually delivered, not the configured values. Both sides use the same
nearest-rank percentiles over the same requests (the run's measurement
window, successful requests only).

Rule per percentile (p50 and p95 of TTFT and ITL): the reported value must
not be below the true one, and at most max(2 ms, 3%) above it. A client
that saturates its own CPU reads chunks late and inflates its percentiles;
this benchmark exists to catch that. Client CPU (the `gpufleet loadtest`
process tree: the CLI and Locust) and server CPU are measured from /proc
over the measurement window.

The raw asyncio baseline (``bench/raw_client.py``) runs against a fresh
simulator with the same settings right after each gpufleet run (rounds
interleaved), and its error against the same kind of truth is printed beside
ours, with the ratio. The simulator and this script are pinned to CPU 0 and
each client to CPU 1 (``taskset``); the load average is recorded per run.

    .venv/bin/python bench/loadtest_accuracy.py                      # 64 and 256 streams, 3 runs each (~8 min)
    .venv/bin/python bench/loadtest_accuracy.py --users 64 256 --duration 30 --repeat 3 --json out.json
    .venv/bin/python bench/loadtest_accuracy.py --no-baseline --repeat 1   # gpufleet only (~2 min)

Each level takes warm-up + duration + ~10 s per tool. Exit status: 0 when
every gpufleet level passes, 1 otherwise (the baseline is reported, not judged).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchlib import (CpuSampler, context_switches, get_json, percentile, process_cpu, tree_cpu,
                      tree_involuntary_switches, window_cpu_share)
from pinning import client_prefix, describe, pin_current_process

ROOT = Path(__file__).resolve().parent.parent
ABS_TOLERANCE_MS = 2.0
REL_TOLERANCE = 0.03
PERCENTILES = (50, 95)


@dataclass(frozen=True)
class Comparison:
    metric: str  # "ttft" or "itl"
    p: int
    reported_ms: float
    true_ms: float

    @property
    def error_ms(self) -> float:
        return self.reported_ms - self.true_ms

    @property
    def error_pct(self) -> float:
        return 100.0 * self.error_ms / self.true_ms if self.true_ms else float("inf")

    @property
    def allowed_ms(self) -> float:
        return allowed_error_ms(self.true_ms)

    @property
    def passed(self) -> bool:
        return within_rule(self.reported_ms, self.true_ms)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "error_ms": self.error_ms, "error_pct": self.error_pct,
                "allowed_ms": self.allowed_ms, "passed": self.passed}


def allowed_error_ms(true_ms: float) -> float:
    """How far above the truth a reported value may be: max(2 ms, 3%)."""
    return max(ABS_TOLERANCE_MS, REL_TOLERANCE * true_ms)


def within_rule(reported_ms: float, true_ms: float) -> bool:
    """Never below the truth, and at most max(2 ms, 3%) above it."""
    return true_ms <= reported_ms <= true_ms + allowed_error_ms(true_ms)


@dataclass
class TruthSamples:
    """Server-side samples of the requests the report counted, plus matching diagnostics."""

    ttft_ms: list[float]
    itl_ms: list[float]
    matched: int
    missing: list[str]  # request ids the server has no record of
    gap_count_mismatch: int  # requests whose client and server chunk counts differ
    ttft_errors_ms: list[float]  # per request: client TTFT - server TTFT
    itl_errors_ms: list[float]  # per gap: client gap - server gap (where counts match)


def truth_samples(records: list[Any], truth_by_id: dict[str, dict[str, Any]]) -> TruthSamples:
    """Truth for ``records`` (objects with request_id, ttft_ms, chunk_gaps_ms).

    TTFT = first chunk write - arrival; ITL = gaps between chunk writes.
    """
    out = TruthSamples([], [], 0, [], 0, [], [])
    for rec in records:
        truth = truth_by_id.get(rec.request_id)
        if truth is None or not truth.get("chunk_times"):
            out.missing.append(rec.request_id)
            continue
        out.matched += 1
        times = truth["chunk_times"]
        ttft = (times[0] - truth["received_at"]) * 1000.0
        gaps = [(b - a) * 1000.0 for a, b in zip(times, times[1:])]
        out.ttft_ms.append(ttft)
        out.itl_ms.extend(gaps)
        if rec.ttft_ms is not None:
            out.ttft_errors_ms.append(rec.ttft_ms - ttft)
        if len(gaps) == len(rec.chunk_gaps_ms):
            out.itl_errors_ms.extend(c - s for c, s in zip(rec.chunk_gaps_ms, gaps))
        else:
            out.gap_count_mismatch += 1
    return out


def own_percentiles(records: list[Any]) -> dict[str, dict[str, float | None]]:
    """A client's own p50/p95 of TTFT and ITL over ``records`` (for the baseline, which has no report)."""
    ttft = [r.ttft_ms for r in records if r.ttft_ms is not None]
    itl = [g for r in records for g in r.chunk_gaps_ms]
    return {f"{name}_ms": {f"p{p}": (percentile(v, p) if v else None) for p in PERCENTILES}
            for name, v in (("ttft", ttft), ("itl", itl))}


def compare(reported: dict[str, dict[str, float | None]], truth: TruthSamples) -> list[Comparison]:
    """Reported p50/p95 (from the report JSON) against the same percentiles of the truth."""
    rows = []
    for metric, samples in (("ttft", truth.ttft_ms), ("itl", truth.itl_ms)):
        for p in PERCENTILES:
            value = reported[f"{metric}_ms"][f"p{p}"]
            if value is None or not samples:
                raise RuntimeError(f"no {metric} samples to compare (reported {value}, truth {len(samples)})")
            rows.append(Comparison(metric, p, float(value), percentile(samples, p)))
    return rows


BURST_WINDOW_S = 0.001
BURST_BUCKETS = ((1, 8), (9, 32), (33, 64), (65, 128), (129, 10**9))


def chunk_lateness(records: list[Any], truth_by_id: dict[str, dict[str, Any]]) -> list[tuple[float, int]]:
    """(client read time - server write time in ms, server writes in the 1 ms before it) per chunk.

    The client's read times are rebuilt from its record (sent_at + TTFT +
    gaps, on its epoch-anchored clock); the server's are its own epoch
    stamps. Both processes run on this machine, so they share the clock.
    The burst count says how many chunks (of any stream) the server wrote
    at about the same moment, i.e. how many the single client event loop
    had to handle at once.
    """
    import bisect

    writes = sorted(t for truth in truth_by_id.values() for t in truth.get("chunk_times") or ())
    out: list[tuple[float, int]] = []
    for rec in records:
        truth = truth_by_id.get(rec.request_id)
        if truth is None or rec.ttft_ms is None or not truth.get("chunk_times"):
            continue
        server_times = truth["chunk_times"]
        if len(server_times) != len(rec.chunk_gaps_ms) + 1:
            continue
        read = rec.sent_at + rec.ttft_ms / 1000.0
        reads = [read]
        for gap in rec.chunk_gaps_ms:
            read += gap / 1000.0
            reads.append(read)
        for r, w in zip(reads, server_times):
            burst = bisect.bisect_right(writes, w) - bisect.bisect_left(writes, w - BURST_WINDOW_S)
            out.append(((r - w) * 1000.0, burst))
    return out


def lateness_by_burst(pairs: list[tuple[float, int]]) -> list[dict[str, Any]]:
    rows = []
    for low, high in BURST_BUCKETS:
        values = [late for late, burst in pairs if low <= burst <= high]
        if values:
            rows.append({"burst": f"{low}-{high}" if high < 10**9 else f">={low}", "chunks": len(values),
                         "p50_ms": percentile(values, 50), "p95_ms": percentile(values, 95),
                         "p99_ms": percentile(values, 99)})
    return rows


def spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"min": None, "p50": None, "p99": None, "max": None}
    return {"min": min(values), "p50": percentile(values, 50), "p99": percentile(values, 99), "max": max(values)}


# -- one level -----------------------------------------------------------------
def _server(users: int, args: argparse.Namespace):
    from gpufleet.simserver.launch import LocalServer

    max_tokens = 256  # the short_chat workload's upper bound
    return LocalServer(ttft_ms=args.ttft_ms, itl_ms=args.itl_ms, jitter=0.0, seed=args.seed, max_num_seqs=users,
                       kv_capacity_tokens=users * (512 + max_tokens) + 8192, truth_size=200_000)


def run_baseline(users: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """The raw asyncio client at the same level, judged against the same kind of truth."""
    from types import SimpleNamespace

    out = workdir / f"raw-{users}.json"
    load_before = os.getloadavg()[0]
    with _server(users, args) as server:
        argv = [*client_prefix(), sys.executable, str(ROOT / "bench" / "raw_client.py"), "--url", server.url,
                "--model", server.model, "--concurrency", str(users), "--duration", str(args.warmup + args.duration),
                "--workload", args.workload, "--seed", str(args.seed), "--out", str(out)]
        proc = subprocess.run(argv, cwd=ROOT, capture_output=True, timeout=args.warmup + args.duration + 300)
        if not out.exists():
            raise RuntimeError(f"raw_client exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-2000:]}")
        doc = json.loads(out.read_text())
        truth_all = get_json(server.url + "/sim/requests")["requests"]  # type: ignore[index]
    start = doc["started_at"] + args.warmup
    records = [SimpleNamespace(**r) for r in doc["records"]
               if r["ok"] and start <= r["sent_at"] < start + args.duration]
    truth = truth_samples(records, {t["id"]: t for t in truth_all})
    rows = compare(own_percentiles(records), truth)
    return {"users": users, "requests_counted": len(records), "truth_missing": len(truth.missing),
            "comparisons": [r.to_dict() for r in rows], "passed": all(r.passed for r in rows) and not truth.missing,
            "load_average": [load_before, os.getloadavg()[0]]}


def run_level(users: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from gpufleet.loadtest.rawrun import read_run
    from gpufleet.loadtest.stats import split_by_window

    with _server(users, args) as server:
        report_path = workdir / f"report-{users}.json"
        run_path = workdir / f"run-{users}.json"
        argv = [sys.executable, "-m", "gpufleet.cli", "loadtest", "--host", server.url, "--model", server.model,
                "--users", str(users), "--duration", str(args.duration), "--warmup", str(args.warmup),
                "--workload", args.workload, "--processes", str(args.processes), "--min-samples", "1",
                "--json", str(report_path), "--save-run", str(run_path), "--quiet"]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        started = time.time()
        proc = subprocess.Popen([*client_prefix(), *argv], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        probes = {"client": lambda: tree_cpu(proc.pid), "server": lambda: process_cpu(server.pid),
                  "client_preempted": lambda: float(tree_involuntary_switches(proc.pid)),
                  "server_preempted": lambda: float(context_switches(server.pid)[1])}
        load_before = os.getloadavg()[0]
        with CpuSampler(probes, interval=0.25) as sampler:
            out, err = proc.communicate(timeout=args.warmup + args.duration + 300)
        if not report_path.exists() or not run_path.exists():
            raise RuntimeError(f"gpufleet loadtest exited {proc.returncode} without a report/run:\n"
                               f"{err.decode(errors='replace')[-3000:]}")
        report = json.loads(report_path.read_text())
        run = read_run(run_path)
        truth_all = get_json(server.url + "/sim/requests")["requests"]  # type: ignore[index]
    truth_by_id = {t["id"]: t for t in truth_all}
    inside, _, _ = split_by_window(run.records, run.window)
    counted = [r for r in inside if r.ok]
    truth = truth_samples(counted, truth_by_id)
    rows = compare(report, truth)
    lateness = chunk_lateness(counted, truth_by_id)
    w0, w1 = run.window
    client_cores = window_cpu_share(sampler.samples, "client", w0, w1)
    server_cores = window_cpu_share(sampler.samples, "server", w0, w1)
    preempted = {name: window_cpu_share(sampler.samples, f"{name}_preempted", w0, w1) for name in ("client", "server")}
    return {
        "users": users,
        "exit_code": proc.returncode,
        "verdict": report["gate"]["verdict"],
        "gate_reason": report["gate"]["reason"],
        "requests_counted": len(counted),
        "truth_matched": truth.matched,
        "truth_missing": len(truth.missing),
        "gap_count_mismatch": truth.gap_count_mismatch,
        "itl_samples": len(truth.itl_ms),
        "comparisons": [r.to_dict() for r in rows],
        "passed": all(r.passed for r in rows) and not truth.missing,
        "client_cpu_cores": client_cores,
        "server_cpu_cores": server_cores,
        "involuntary_switches_per_s": preempted,
        "load_average": [load_before, os.getloadavg()[0]],
        "harness_client_health": report.get("client"),
        "per_request_ttft_error_ms": spread(truth.ttft_errors_ms),
        "per_gap_itl_error_ms": spread(truth.itl_errors_ms),
        "chunk_lateness_ms": spread([late for late, _ in lateness]),
        "lateness_by_burst": lateness_by_burst(lateness),
        "server_true_ttft_ms": spread(truth.ttft_ms),
        "server_true_itl_ms": spread(truth.itl_ms),
        "output_tokens_per_s": report.get("output_tokens_per_s"),
        "wall_s": time.time() - started,
    }


def print_level(level: dict[str, Any]) -> None:
    print(f"\n== {level['users']} concurrent streams: {level['requests_counted']} requests, "
          f"{level['itl_samples']} ITL samples, verdict of the gate: {level['verdict']} "
          f"(exit {level['exit_code']})")
    print(f"{'metric':<9}{'reported ms':>13}{'true ms':>11}{'error ms':>10}{'error %':>9}{'allowed ms':>12}  result")
    for row in level["comparisons"]:
        label = f"{row['metric'].upper()} p{row['p']}"
        print(f"{label:<9}{row['reported_ms']:>13.3f}{row['true_ms']:>11.3f}{row['error_ms']:>+10.3f}"
              f"{row['error_pct']:>+9.2f}{row['allowed_ms']:>12.2f}  {'PASS' if row['passed'] else 'FAIL'}")
    health = level.get("harness_client_health") or {}
    print(f"client CPU {100 * level['client_cpu_cores']:.0f}% of a core (gpufleet loadtest + Locust, /proc), "
          f"server CPU {100 * level['server_cpu_cores']:.0f}% of a core; harness's own view: "
          f"cpu_max {health.get('cpu_max')}, loop lag p99 {health.get('loop_lag_p99_ms')} ms")
    pre = level["involuntary_switches_per_s"]
    print(f"CPU contention: involuntary context switches/s client {pre['client']:.0f}, server {pre['server']:.0f}; "
          f"machine load average {level['load_average'][0]:.2f} before, {level['load_average'][1]:.2f} after")
    e, g = level["per_request_ttft_error_ms"], level["per_gap_itl_error_ms"]
    print(f"per-request TTFT error (client - server) ms: min {e['min']:.2f} p50 {e['p50']:.2f} "
          f"p99 {e['p99']:.2f} max {e['max']:.2f}")
    if g["min"] is not None:
        print(f"per-gap ITL error (client - server) ms: min {g['min']:.2f} p50 {g['p50']:.2f} "
              f"p99 {g['p99']:.2f} max {g['max']:.2f}")
    late = level["chunk_lateness_ms"]
    if late["min"] is not None:
        print(f"chunk lateness (client read - server write) ms: min {late['min']:.2f} p50 {late['p50']:.2f} "
              f"p99 {late['p99']:.2f} max {late['max']:.2f}; by server burst (chunks written in the same 1 ms):")
        for row in level["lateness_by_burst"]:
            print(f"    burst {row['burst']:>8}: {row['chunks']:>7} chunks  p50 {row['p50_ms']:6.2f}  "
                  f"p95 {row['p95_ms']:6.2f}  p99 {row['p99_ms']:6.2f} ms")
    if level["truth_missing"] or level["gap_count_mismatch"]:
        print(f"WARNING: {level['truth_missing']} requests missing from the server's truth, "
              f"{level['gap_count_mismatch']} with a different chunk count")
    base = level.get("baseline")
    if base:
        print(f"raw asyncio baseline ({base['requests_counted']} requests, load average "
              f"{base['load_average'][0]:.2f}): error ms (gpufleet / baseline)")
        for ours, theirs in zip(level["comparisons"], base["comparisons"]):
            ratio = ours["error_ms"] / theirs["error_ms"] if theirs["error_ms"] > 0 else None
            print(f"    {ours['metric'].upper()} p{ours['p']}: {ours['error_ms']:+.3f} / {theirs['error_ms']:+.3f}"
                  f"{f'  ({ratio:.2f}x)' if ratio is not None else ''}  baseline "
                  f"{'PASS' if theirs['passed'] else 'FAIL'}")
    print(f"level result: {'PASS' if level['passed'] else 'FAIL'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, nargs="+", default=[64, 256], help="concurrency levels")
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds per level")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--ttft-ms", type=float, default=150.0, help="the simulator's fixed TTFT")
    parser.add_argument("--itl-ms", type=float, default=20.0, help="the simulator's fixed ITL")
    parser.add_argument("--workload", default="short_chat")
    parser.add_argument("--processes", type=int, default=1, help="gpufleet loadtest --processes")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="run every level this many times")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false",
                        help="skip the raw asyncio baseline runs")
    parser.add_argument("--json", type=Path, help="also write all results here")
    args = parser.parse_args(argv)
    pin_current_process()
    print(f"gpufleet loadtest accuracy vs server truth: TTFT {args.ttft_ms} ms, ITL {args.itl_ms} ms, jitter 0, "
          f"workload {args.workload}, {args.duration:.0f} s measured after {args.warmup:.0f} s warm-up, "
          f"{os.cpu_count()} CPUs, {describe()}, load average {os.getloadavg()[0]:.2f} at start")
    levels = []
    with tempfile.TemporaryDirectory(prefix="gpufleet-accuracy-") as tmp:
        for attempt in range(args.repeat):
            for users in args.users:
                level = run_level(users, args, Path(tmp))
                level["attempt"] = attempt + 1
                if args.baseline:
                    level["baseline"] = run_baseline(users, args, Path(tmp))
                print_level(level)
                levels.append(level)
    ok = all(level["passed"] for level in levels)
    print(f"\noverall: {'PASS' if ok else 'FAIL'} (rule: reported >= true and <= true + max(2 ms, 3%))")
    if args.json:
        doc = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "host": platform.node(),
               "cpus": os.cpu_count(), "argv": sys.argv, "settings": vars(args) | {"json": str(args.json)},
               "levels": levels, "passed": ok}
        args.json.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
