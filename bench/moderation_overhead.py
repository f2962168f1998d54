"""What the moderation stage adds: TTFT, ITL and the stage's CPU per request.

Starts the vLLM simulator (fixed TTFT and ITL, jitter 0), the Green API stand-in
and the moderation proxy with the stack defaults (first window 8 chars, later
windows at sentence ends >= 32 chars or 200, overlap 32, real SDK), then runs the
same closed-loop streaming load twice, straight to the simulator and through the
proxy, and compares what the client saw. CPU comes from /proc for the proxy
process (the stage) and the stand-in (which stands for the remote Green service).

    .venv/bin/python bench/moderation_overhead.py --users 16 --duration 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path

import aiohttp

from benchlib import percentile, process_cpu  # noqa: E402  (bench/ is the script's own directory)

from gpufleet.moderation.launch import LocalProxy, LocalStandin  # noqa: E402
from gpufleet.simserver.launch import LocalServer  # noqa: E402


async def one(session: aiohttp.ClientSession, url: str, model: str, max_tokens: int) -> dict | None:
    body = {"model": model, "stream": True, "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": "Tell me about the weather in Hangzhou today."}]}
    start = time.perf_counter()
    times = []
    async with session.post(url + "/v1/chat/completions", json=body, headers={"x-request-id": uuid.uuid4().hex}) as r:
        if r.status != 200:
            return {"status": r.status}
        async for line in r.content:
            if not line.startswith(b"data: {"):
                continue
            chunk = json.loads(line[6:])
            choices = chunk.get("choices") or []
            if choices and (choices[0].get("delta") or {}).get("content"):
                times.append(time.perf_counter())
    if not times:
        return None
    return {"ttft": times[0] - start, "gaps": [b - a for a, b in zip(times, times[1:])], "e2e": times[-1] - start,
            "chunks": len(times)}


async def phase(url: str, model: str, users: int, duration: float, max_tokens: int) -> list[dict]:
    records: list[dict] = []
    statuses: list[int] = []
    failed = 0
    deadline = time.perf_counter() + duration

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal failed
        while time.perf_counter() < deadline:
            rec = await one(session, url, model, max_tokens)
            if rec is None or "status" in rec:
                failed += 1
                statuses.append(rec["status"] if rec else 0)
            else:
                records.append(rec)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        await asyncio.gather(*(worker(session) for _ in range(users)))
    if failed:  # a refused request (e.g. a check past its timeout) is reported, never averaged in
        print(f"{failed} of {failed + len(records)} requests failed at {url}: HTTP {sorted(set(statuses))}")
    return records


def summary(records: list[dict]) -> dict[str, float]:
    ttft = [r["ttft"] * 1000 for r in records]
    gaps = [g * 1000 for r in records for g in r["gaps"]]
    tpot = [(r["e2e"] - r["ttft"]) * 1000 / max(1, r["chunks"] - 1) for r in records]
    return {"requests": len(records), "ttft_p50": percentile(ttft, 50), "ttft_p95": percentile(ttft, 95),
            "itl_p50": percentile(gaps, 50), "itl_p95": percentile(gaps, 95), "itl_p99": percentile(gaps, 99),
            "itl_max": max(gaps), "tpot_mean": sum(tpot) / len(tpot)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--ttft-ms", type=float, default=100.0)
    parser.add_argument("--itl-ms", type=float, default=25.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    sim_opts = dict(ttft_ms=args.ttft_ms, itl_ms=args.itl_ms, jitter=0, max_num_seqs=max(256, args.users),
                    kv_capacity_tokens=1_000_000, max_model_len=8192)
    with LocalServer(**sim_opts) as sim, LocalStandin(block={"forbidden-phrase": "political_content"}) as green, \
            LocalProxy(upstream=sim.url, provider="aliyun-green", endpoint=green.url, stack="bench") as proxy:
        direct = asyncio.run(phase(sim.url, sim.model, args.users, args.duration, args.max_tokens))
        cpu0, g0 = process_cpu(proxy.pid), process_cpu(green.pid)
        staged = asyncio.run(phase(proxy.url, sim.model, args.users, args.duration, args.max_tokens))
        cpu, gcpu = process_cpu(proxy.pid) - cpu0, process_cpu(green.pid) - g0
    a, b = summary(direct), summary(staged)
    result = {"users": args.users, "duration_s": args.duration, "max_tokens": args.max_tokens,
              "sim_ttft_ms": args.ttft_ms, "sim_itl_ms": args.itl_ms, "direct": a, "through_stage": b,
              "added": {k: b[k] - a[k] for k in a if k != "requests"},
              "stage_cpu_ms_per_request": cpu * 1000 / max(1, b["requests"]),
              "standin_cpu_ms_per_request": gcpu * 1000 / max(1, b["requests"])}
    print(f"{'':18}{'requests':>9}{'TTFT p50':>10}{'TTFT p95':>10}{'ITL p50':>9}{'ITL p95':>9}{'ITL p99':>9}"
          f"{'ITL max':>9}{'TPOT':>8}  (ms)")
    for name, s in (("direct", a), ("through stage", b)):
        print(f"{name:18}{s['requests']:>9}{s['ttft_p50']:>10.1f}{s['ttft_p95']:>10.1f}{s['itl_p50']:>9.1f}"
              f"{s['itl_p95']:>9.1f}{s['itl_p99']:>9.1f}{s['itl_max']:>9.1f}{s['tpot_mean']:>8.1f}")
    d = result["added"]
    print(f"{'added':18}{'':>9}{d['ttft_p50']:>10.1f}{d['ttft_p95']:>10.1f}{d['itl_p50']:>9.1f}{d['itl_p95']:>9.1f}"
          f"{d['itl_p99']:>9.1f}{d['itl_max']:>9.1f}{d['tpot_mean']:>8.1f}")
    print(f"stage CPU per request: {result['stage_cpu_ms_per_request']:.2f} ms (proxy process); "
          f"stand-in (the remote Green API's place): {result['standin_cpu_ms_per_request']:.2f} ms")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
