"""Profile the Locust load generator with py-spy and say where its CPU goes.

Starts the simulator pinned to one core, runs the scenario's Locust process
pinned to the other (``taskset``) at N closed-loop streams of the
``completions`` workload (64 output tokens, one SSE chunk per token), lets it
settle, then samples it with ``py-spy record --format raw`` and groups the
samples by the innermost frame that belongs to a known part of the client.

    .venv/bin/python -m pip install py-spy          # a tool, not a project dependency
    .venv/bin/python bench/profile_client.py --streams 256 --seconds 20
    .venv/bin/python bench/profile_client.py --loadtests /tmp/old/loadtests   # profile another checkout's scenario

Takes about settle + seconds + 10 s. Needs 2 CPUs and permission to ptrace
the child (py-spy). Prints a table of shares; ``--out`` keeps the raw stacks.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import process_cpu  # noqa: E402
from pinning import client_prefix, pin_current_process  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# (bucket, predicate on "function (file:line)"), innermost matching frame wins.
BUCKETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("gevent Timeout armed/cancelled per recv", ("gevent/timeout.py",)),
    ("geventhttpclient readline/feed (HTTP parser)", ("geventhttpclient/",)),
    ("JSON decoding", ("json/",)),
    ("SSE parser (common/sse.py)", ("common/sse.py",)),
    ("gevent recv and hub switches", ("gevent/", "greenlet")),
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=20.0, help="sampling time")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds before sampling starts")
    parser.add_argument("--ttft-ms", type=float, default=150.0)
    parser.add_argument("--itl-ms", type=float, default=20.0)
    parser.add_argument("--loadtests", type=Path, default=ROOT / "loadtests", help="scenario directory to run")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--out", type=Path, help="keep py-spy's raw stacks here")
    parser.add_argument("--native", action="store_true", help="also sample C frames (pauses the process)")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if py_spy is None:
        print("py-spy not found: .venv/bin/python -m pip install py-spy", file=sys.stderr)
        return 2
    from gpufleet.simserver.launch import LocalServer

    pin_current_process()  # the simulator inherits core 0
    n = args.streams
    with LocalServer(ttft_ms=args.ttft_ms, itl_ms=args.itl_ms, jitter=0.0, max_num_seqs=n * 2,
                     kv_capacity_tokens=n * 2 * 1024 + 8192) as server, \
            tempfile.TemporaryDirectory(prefix="gpufleet-profile-") as tmp:
        argv_locust = [*client_prefix(), sys.executable, "-m", "locust", "-f", str(args.loadtests / "chat.py"),
                       "--headless", "--host", server.url, "-u", str(n), "-r", str(n), "--run-time",
                       f"{int(args.settle + args.seconds + 15)}s", "--only-summary", "--loglevel", "WARNING",
                       "--gpufleet-workload", "completions", "--gpufleet-model", server.model]
        proc = subprocess.Popen(argv_locust, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            time.sleep(args.settle)
            raw_path = Path(tmp) / "stacks.txt"
            cpu0, t0, load = process_cpu(proc.pid), time.time(), os.getloadavg()[0]
            subprocess.run([py_spy, "record", "--pid", str(proc.pid), "--duration", str(int(args.seconds)),
                            "--rate", str(args.rate), "--format", "raw", *(["--native"] if args.native else ["--nonblocking"]), "--output",
                            str(raw_path)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            cores = (process_cpu(proc.pid) - cpu0) / (time.time() - t0)
            raw = raw_path.read_text()
            if args.out:
                args.out.write_text(raw)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"Locust process at {n} streams ({args.loadtests}): {cores:.2f} cores while sampled, "
          f"load average {load:.2f}")
    print(f"{'share':>7}  {'samples':>8}  where")
    for name, count, share in summarize(raw):
        print(f"{100 * share:6.1f}%  {count:>8}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
