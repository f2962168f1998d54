"""Profile the Locust load generator with py-spy and say where its CPU goes.

Starts the simulator pinned to one core, runs the scenario's Locust process
pinned to the other (``taskset``) at N closed-loop streams of the
``completions`` workload (64 output tokens, one SSE chunk per token), lets it
settle, then samples it with ``py-spy record --format raw`` and groups the
samples by the innermost frame that belongs to a known part of the client.

    .venv/bin/python -m pip install py-spy          # a tool, not a project dependency
    .venv/bin/python bench/profile_client.py                       # 256 streams, this checkout
    git archive 3d17178 loadtests | tar -x -C /tmp/before           # the client before issue 15
    .venv/bin/python bench/profile_client.py --loadtests /tmp/before/loadtests loadtests --rounds 2

Per run: settle (8 s), CPU per chunk over a window without the profiler
(15 s), then py-spy (15 s): about 45 s per scenario and round. Needs 2 CPUs
and permission to ptrace the child (py-spy). ``--out`` keeps raw stacks.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchlib import process_cpu
from pinning import client_prefix, describe, pin_current_process

ROOT = Path(__file__).resolve().parent.parent

# (bucket, predicate on "function (file:line)"), innermost matching frame wins.
BUCKETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("gevent Timeout armed/cancelled per recv", ("gevent/timeout.py",)),
    ("geventhttpclient readline/feed (HTTP parser)", ("geventhttpclient/",)),
    ("JSON decoding", ("json/",)),
    ("SSE parser (common/sse.py)", ("common/sse.py",)),
    ("stream reader: socket reads (common/reader.py)", ("common/reader.py",)),
    ("gevent hub: event loop, I/O callbacks, recv, switches", ("gevent/", "greenlet")),
    ("Locust statistics and events", ("locust/",)),
    ("record building, request building (common/)", ("common/", "gpufleet/loadtest/")),
)


def bucket_of(stack: list[str]) -> str:
    for frame in reversed(stack):  # innermost first
        for name, needles in BUCKETS:
            if any(n in frame for n in needles):
                return name
    return "other (interpreter, idle loop)"


def summarize(raw: str) -> list[tuple[str, int, float]]:
    """(bucket, samples, share) from py-spy's raw (collapsed) output, largest first."""
    counts: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        counts[bucket_of(stack.split(";"))] += int(n)
    total = sum(counts.values()) or 1
    return [(name, n, n / total) for name, n in counts.most_common()]


def profile_once(scenario: Path, args: argparse.Namespace, py_spy: str | None) -> dict:
    """One Locust run: CPU per chunk over a quiet window, then py-spy over the next one."""
    from benchlib import server_counters
    from gpufleet.simserver.launch import LocalServer

    n = args.streams
    with LocalServer(ttft_ms=args.ttft_ms, itl_ms=args.itl_ms, jitter=0.0, max_num_seqs=n * 2,
                     kv_capacity_tokens=n * 2 * 1024 + 8192) as server, \
            tempfile.TemporaryDirectory(prefix="gpufleet-profile-") as tmp:
        argv = [*client_prefix(), sys.executable, "-m", "locust", "-f", str(scenario / "chat.py"),
                "--headless", "--host", server.url, "-u", str(n), "-r", str(n), "--run-time",
                f"{int(args.settle + args.window + args.seconds + 20)}s", "--only-summary", "--loglevel", "WARNING",
                "--gpufleet-workload", "completions", "--gpufleet-model", server.model]
        proc = subprocess.Popen(argv, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            time.sleep(args.settle)
            cpu0, t0, k0, load = process_cpu(proc.pid), time.time(), server_counters(server.url), os.getloadavg()[0]
            time.sleep(args.window)
            cpu1, t1, k1 = process_cpu(proc.pid), time.time(), server_counters(server.url)
            raw = ""
            if py_spy is not None:
                raw_path = Path(tmp) / "stacks.txt"
                mode = ["--native"] if args.native else ["--nonblocking"]
                subprocess.run([py_spy, "record", "--pid", str(proc.pid), "--duration", str(int(args.seconds)),
                                "--rate", str(args.rate), "--format", "raw", *mode, "--output", str(raw_path)],
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                raw = raw_path.read_text()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    chunks = k1["generation_tokens"] - k0["generation_tokens"]  # one chunk per token in this workload
    cores = (cpu1 - cpu0) / (t1 - t0)
    return {"scenario": str(scenario), "cores": cores, "chunks_per_s": chunks / (t1 - t0),
            "us_per_chunk": 1e6 * (cpu1 - cpu0) / chunks if chunks else None, "load": load,
            "summary": summarize(raw), "raw": raw}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=15.0, help="py-spy sampling time per run")
    parser.add_argument("--window", type=float, default=15.0, help="CPU-per-chunk window per run (no profiler)")
    parser.add_argument("--settle", type=float, default=8.0, help="seconds before measuring")
    parser.add_argument("--ttft-ms", type=float, default=150.0)
    parser.add_argument("--itl-ms", type=float, default=20.0)
    parser.add_argument("--loadtests", type=Path, nargs="+", default=[ROOT / "loadtests"],
                        help="scenario directories to compare (e.g. an older checkout's loadtests/)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--native", action="store_true", help="also sample C frames (pauses the process)")
    parser.add_argument("--out", type=Path, help="keep py-spy's raw stacks here (the last run's)")
    parser.add_argument("--no-profile", action="store_true", help="only CPU per chunk (no py-spy needed)")
    args = parser.parse_args(argv)
    py_spy = None
    if not args.no_profile:
        py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
        if py_spy is None:
            print("py-spy not found: .venv/bin/python -m pip install py-spy (or --no-profile)", file=sys.stderr)
            return 2
    pin_current_process()  # the simulator inherits the server core
    print(f"{args.streams} closed-loop streams of `completions` (64 chunks each), simulator TTFT {args.ttft_ms} ms "
          f"ITL {args.itl_ms} ms; {describe()}", flush=True)
    for round_no in range(1, args.rounds + 1):
        for scenario in (p.resolve() for p in args.loadtests):
            result = profile_once(scenario, args, py_spy)
            if args.out:
                args.out.write_text(result["raw"])
            print(f"\nround {round_no}, {scenario}: {result['cores']:.3f} cores, {result['chunks_per_s']:.0f} "
                  f"chunks/s, {result['us_per_chunk']:.1f} us CPU per chunk (load average {result['load']:.2f})")
            if result["summary"]:
                print(f"{'share':>7}  {'samples':>8}  where (py-spy, innermost known frame)")
            for name, count, share in result["summary"]:
                print(f"{100 * share:6.1f}%  {count:>8}  {name}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
