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
not be below the true one, and at most max(2 ms, 3%) above it. The server
stamps each write before and after it (the truth is an interval as wide as
the write call); "below" is judged against the interval's low end, "above"
against the completion stamps, and the strict reading (completion stamps
only) is printed beside it (`bench/accuracy_truth.py`). A client that
saturates its own CPU reads chunks late and inflates its percentiles;
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from accuracy_truth import (chunk_lateness, compare, lateness_by_burst, own_percentiles, spread,
                            truth_samples)
from benchlib import (CpuSampler, context_switches, get_json, process_cpu, tree_cpu, tree_involuntary_switches,
                      window_cpu_share)
from pinning import client_prefix, describe, pin_current_process

ROOT = Path(__file__).resolve().parent.parent


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
        "server_write_us": spread(truth.write_us or []),
        "strict_passed": all(r.strict_passed for r in rows) and not truth.missing,
        "output_tokens_per_s": report.get("output_tokens_per_s"),
        "wall_s": time.time() - started,
    }


def verdict(row: dict[str, Any]) -> str:
    """PASS, FAIL, or PASS* when only the strict reading (completion stamps alone) fails."""
    if not row["passed"]:
        return "FAIL"
    return "PASS" if row["strict_passed"] else "PASS* (below the completion stamp, within the write call)"


def print_level(level: dict[str, Any]) -> None:
    print(f"\n== {level['users']} concurrent streams: {level['requests_counted']} requests, "
          f"{level['itl_samples']} ITL samples, verdict of the gate: {level['verdict']} "
          f"(exit {level['exit_code']})")
    print(f"{'metric':<9}{'reported ms':>13}{'true ms':>11}{'lowest ms':>11}{'error ms':>10}{'error %':>9}"
          f"{'allowed ms':>12}  result")
    for row in level["comparisons"]:
        label = f"{row['metric'].upper()} p{row['p']}"
        low = f"{row['true_lo_ms']:>11.3f}" if row.get("true_lo_ms") is not None else f"{'-':>11}"
        print(f"{label:<9}{row['reported_ms']:>13.3f}{row['true_ms']:>11.3f}{low}{row['error_ms']:>+10.3f}"
              f"{row['error_pct']:>+9.2f}{row['allowed_ms']:>12.2f}  {verdict(row)}")
    writes = level.get("server_write_us") or {}
    if writes.get("p50") is not None:
        print(f"server write calls (the truth's own width) us: p50 {writes['p50']:.1f} p99 {writes['p99']:.1f} "
              f"max {writes['max']:.1f}")
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
                  f"{verdict(theirs)}")
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
    strict = all(level.get("strict_passed") for level in levels)
    print(f"\noverall: {'PASS' if ok else 'FAIL'} (rule: reported >= the lowest true value and <= true + "
          f"max(2 ms, 3%)); strict reading (completion stamps only): {'PASS' if strict else 'FAIL'}")
    if args.json:
        doc = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "host": platform.node(),
               "cpus": os.cpu_count(), "argv": sys.argv, "settings": vars(args) | {"json": str(args.json)},
               "levels": levels, "passed": ok}
        args.json.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
