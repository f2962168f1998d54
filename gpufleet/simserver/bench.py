"""Measure the simulator's own CPU cost at a given number of concurrent streams.

The simulator must never be the bottleneck of the load tests it serves, so
this starts it with :class:`LocalServer`, keeps ``--streams`` streaming chat
requests open against it from a light aiohttp client (raw bytes, no JSON
parsing), and reads the server process's CPU time from ``/proc`` (Linux)
over a measurement window. Usage::

    python -m gpufleet.simserver.bench --streams 256 --itl-ms 25 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp

from gpufleet.simserver.launch import LocalServer

__all__ = ["BenchResult", "percentile", "process_cpu_seconds", "run_bench", "written_latencies", "main"]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` (Linux /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (0 <= q <= 1) of already sorted values."""
    if not sorted_values:
        raise ValueError("percentile of an empty sequence")
    return sorted_values[round(q * (len(sorted_values) - 1))]


def written_latencies(records: Sequence[dict[str, Any]]) -> tuple[list[float], list[float]]:
    """Sorted TTFTs and ITLs (seconds) as the server wrote them, from
    ``GET /sim/requests`` records that completed."""
    ttfts: list[float] = []
    itls: list[float] = []
    for rec in records:
        times = rec["chunk_times"]
        if rec["outcome"] != "ok" or not times:
            continue
        ttfts.append(times[0] - rec["received_at"])
        itls.extend(b - a for a, b in zip(times, times[1:]))
    return sorted(ttfts), sorted(itls)


@dataclass(frozen=True)
class BenchResult:
    streams: int
    itl_ms: float
    tokens_per_chunk: int
    window_s: float
    server_cpu_percent: float
    chunks_per_s: float
    completed_requests: int
    written_ttft_p99_ms: float
    written_itl_p1_ms: float
    written_itl_p50_ms: float
    written_itl_p99_ms: float


async def _stream_worker(
    session: aiohttp.ClientSession, url: str, model: str, max_tokens: int, stop_at: float, counts: list[int]
) -> None:
    payload = {
        "model": model,
        "messages": [{"role": "user", "content": "benchmark the simulator please"}],
        "max_tokens": max_tokens,
        "stream": True,
    }
    while time.monotonic() < stop_at:
        async with session.post(f"{url}/v1/chat/completions", json=payload) as resp:
            async for data in resp.content.iter_any():
                counts[0] += data.count(b"data: ")
        counts[1] += 1


async def _drive(url: str, model: str, streams: int, max_tokens: int, seconds: float, warmup: float, pid: int) -> tuple[float, float, int, int]:
    counts = [0, 0]
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        stop_at = time.monotonic() + warmup + seconds
        workers = [
            asyncio.create_task(_stream_worker(session, url, model, max_tokens, stop_at, counts))
            for _ in range(streams)
        ]
        await asyncio.sleep(warmup)
        cpu0, wall0, chunks0, done0 = process_cpu_seconds(pid), time.monotonic(), counts[0], counts[1]
        await asyncio.sleep(seconds)
        cpu1, wall1, chunks1, done1 = process_cpu_seconds(pid), time.monotonic(), counts[0], counts[1]
        await asyncio.gather(*workers)
    return cpu1 - cpu0, wall1 - wall0, chunks1 - chunks0, done1 - done0


def run_bench(
    streams: int,
    *,
    itl_ms: float = 25.0,
    ttft_ms: float = 100.0,
    tokens_per_chunk: int = 1,
    max_tokens: int = 200,
    seconds: float = 10.0,
    warmup: float = 3.0,
) -> BenchResult:
    """Run one measurement: the server's CPU use over the window, and the
    TTFT/ITL it actually wrote (per token; chunk gaps / tokens_per_chunk)."""
    with LocalServer(
        itl_ms=itl_ms,
        ttft_ms=ttft_ms,
        jitter=0.0,
        tokens_per_chunk=tokens_per_chunk,
        max_num_seqs=max(streams, 1),
        kv_capacity_tokens=max(streams, 1) * (max_tokens + 64) + 8192,  # never the limit
        truth_size=4 * streams,
    ) as server:
        cpu, wall, chunks, done = asyncio.run(
            _drive(server.url, server.model, streams, max_tokens, seconds, warmup, server.pid)
        )
        ttfts, itls = written_latencies(asyncio.run(_truth(server.url)))
    return BenchResult(
        streams=streams,
        itl_ms=itl_ms,
        tokens_per_chunk=tokens_per_chunk,
        window_s=round(wall, 3),
        server_cpu_percent=round(100.0 * cpu / wall, 1),
        chunks_per_s=round(chunks / wall, 1),
        completed_requests=done,
        written_ttft_p99_ms=round(1000 * percentile(ttfts, 0.99), 2),
        written_itl_p1_ms=round(1000 * percentile(itls, 0.01) / tokens_per_chunk, 2),
        written_itl_p50_ms=round(1000 * percentile(itls, 0.5) / tokens_per_chunk, 2),
        written_itl_p99_ms=round(1000 * percentile(itls, 0.99) / tokens_per_chunk, 2),
    )


async def _truth(url: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/sim/requests") as resp:
            return (await resp.json())["requests"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gpufleet.simserver.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--itl-ms", type=float, default=25.0)
    parser.add_argument("--ttft-ms", type=float, default=100.0)
    parser.add_argument("--tokens-per-chunk", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    args = parser.parse_args(argv)
    for streams in args.streams:
        result = run_bench(
            streams,
            itl_ms=args.itl_ms,
            ttft_ms=args.ttft_ms,
            tokens_per_chunk=args.tokens_per_chunk,
            max_tokens=args.max_tokens,
            seconds=args.seconds,
            warmup=args.warmup,
        )
        print(json.dumps(asdict(result)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
