"""Baseline: a minimal asyncio raw-socket streaming client, the "near the limit" reference.

No HTTP library, no load-test framework: one keep-alive TCP connection per
stream, an ``asyncio.Protocol`` whose ``data_received`` stamps every read
with ``perf_counter`` and handles it in bulk (HTTP/1.1 chunked decoding,
SSE events split on blank lines, one ``json.loads`` per event for the text
and the ``usage`` object). Every event of one read gets that read's time:
they arrived together. It does the minimum a correct client must do, so
``bench/client_capacity.py`` and ``bench/loadtest_accuracy.py`` report
gpufleet's CPU per chunk, tokens/s per core and timing error as ratios to it.

Request bodies come from gpufleet's workload catalog (the same prompts and
lengths as ``gpufleet loadtest``), built before the load starts, so the
timed loop does nothing but send, read and parse.

    .venv/bin/python bench/raw_client.py --url http://127.0.0.1:8000 --concurrency 64 --duration 30 \\
        --workload completions --out records.json

Writes a JSON document with one record per request (``request_id``,
``sent_at`` epoch s, ``ttft_ms``, ``chunk_gaps_ms``, ``output_tokens``,
``ok``) and the window it ran. Loopback targets only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


class Stream(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[None] | None = None
        self.closed = asyncio.get_running_loop().create_future()

    # -- per request --------------------------------------------------------
    def start(self, payload: bytes) -> None:
        self.head = True
        self.raw = b""  # undecoded bytes (headers, chunk framing)
        self.sse = b""  # decoded body not yet split into events
        self.chunk_left = 0  # bytes of the current HTTP chunk still to come
        self.times: list[float] = []
        self.usage: int | None = None
        self.finished = False
        self.status = 0
        self.done = asyncio.get_running_loop().create_future()
        self.sent = time.perf_counter()
        assert self.transport is not None
        self.transport.write(payload)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError("connection lost"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        raw = self.raw + data if self.raw else data
        if self.head:
            end = raw.find(b"\r\n\r\n")
            if end < 0:
                self.raw = raw
                return
            self.status = int(raw[9:12])
            if b"chunked" not in raw[:end].lower():
                raise ConnectionError("this baseline reads chunked (streamed) responses only")
            self.head = False
            raw = raw[end + 4:]
        self.raw = self._dechunk(raw)
        if self.sse:
            self._events(now)

    def _dechunk(self, raw: bytes) -> bytes:
        """Move whole chunk payloads from ``raw`` to ``self.sse``; returns the undecoded rest."""
        pos, n, body = 0, len(raw), []
        while pos < n:
            if self.chunk_left:
                take = min(self.chunk_left, n - pos)
                body.append(raw[pos:pos + take])
                pos += take
                self.chunk_left -= take
                if self.chunk_left:
                    break
                pos += 2  # the CRLF after the payload
                continue
            eol = raw.find(b"\r\n", pos)
            if eol < 0:
                break
            size = int(raw[pos:eol].split(b";", 1)[0], 16)
            pos = eol + 2
            if size == 0:
                self.finished = True
                pos = n  # trailers: none expected
                break
            self.chunk_left = size
        if body:
            self.sse += b"".join(body)
        if self.finished and self.done is not None and not self.done.done():
            self.done.set_result(None)
        return raw[pos:] if pos < n else b""

    def _events(self, now: float) -> None:
        parts = self.sse.split(b"\n\n")
        self.sse = parts.pop()
        for part in parts:
            if not part.startswith(b"data: "):
                continue
            data = part[6:]
            if data == b"[DONE]":
                continue
            obj = json.loads(data)
            usage = obj.get("usage")
            if usage:
                self.usage = usage["completion_tokens"]
            for choice in obj.get("choices") or ():
                delta = choice.get("delta")
                if choice.get("text") or (delta and delta.get("content")):
                    self.times.append(now)
                    break


def request_bytes(host: str, path: str, body: dict, request_id: str) -> bytes:
    data = json.dumps(body, ensure_ascii=False).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Accept: text/event-stream\r\nx-request-id: {request_id}\r\nContent-Length: {len(data)}\r\n\r\n")
    return head.encode() + data


def _scenario_module(name: str):
    """`common.<name>` from loadtests/ (the Locust scenario's package), imported by file location."""
    import importlib
    import importlib.util

    if "common" not in sys.modules:
        folder = ROOT / "loadtests" / "common"
        spec = importlib.util.spec_from_file_location("common", folder / "__init__.py",
                                                      submodule_search_locations=[str(folder)])
        package = importlib.util.module_from_spec(spec)
        sys.modules["common"] = package
        spec.loader.exec_module(package)
    return importlib.import_module(f"common.{name}")


def build_bodies(workload: str, model: str, count: int, seed: int) -> list[tuple[str, dict]]:
    """(path, body) of ``count`` requests of a gpufleet workload, built before the load."""
    load_catalog = _scenario_module("workload").load_catalog

    sampler = load_catalog().sampler(workload, model, random.Random(f"{seed}:raw"))
    plans = [sampler.next() for _ in range(count)]
    if not all(p.stream for p in plans):
        raise SystemExit(f"workload {workload!r} is not streamed; the baseline reads streams only")
    return [(p.path, p.body) for p in plans]


async def drive(index: int, host: str, port: int, prefix: str, bodies: list[tuple[str, dict]], until: float,
                epoch: float, perf0: float, records: list[dict], run_id: str) -> None:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(Stream, host, port)
    seq = 0
    try:
        while time.perf_counter() < until:
            path, body = bodies[(index * 7919 + seq) % len(bodies)]
            seq += 1
            rid = f"{run_id}-raw{index}-{seq}"
            proto.start(request_bytes(f"{host}:{port}", prefix + path, body, rid))
            await proto.done
            end = time.perf_counter()
            times = proto.times
            records.append({
                "request_id": rid, "sent_at": epoch + (proto.sent - perf0),
                "ttft_ms": (times[0] - proto.sent) * 1000.0 if times else None,
                "chunk_gaps_ms": [(b - a) * 1000.0 for a, b in zip(times, times[1:])],
                "e2e_ms": (end - proto.sent) * 1000.0, "output_tokens": proto.usage,
                "ok": proto.status == 200 and bool(times) and proto.usage is not None,
            })
    finally:
        if proto.transport is not None:
            proto.transport.close()


async def run(args: argparse.Namespace) -> dict:
    parts = urlsplit(args.url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"the baseline only targets loopback servers, not {args.url!r}")
    bodies = build_bodies(args.workload, args.model, args.bodies, args.seed)
    epoch, perf0 = time.time(), time.perf_counter()
    until = perf0 + args.duration
    records: list[dict] = []
    run_id = f"raw{int(epoch)}"
    await asyncio.gather(*(drive(i, parts.hostname, parts.port or 80, parts.path.rstrip("/"), bodies, until,
                                 epoch, perf0, records, run_id) for i in range(args.concurrency)))
    return {"tool": "raw_client", "started_at": epoch, "ended_at": time.time(), "concurrency": args.concurrency,
            "workload": args.workload, "records": records}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="http://127.0.0.1:PORT of an OpenAI-compatible server")
    parser.add_argument("--model", required=True)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of sending; then in-flight finish")
    parser.add_argument("--workload", default="completions")
    parser.add_argument("--bodies", type=int, default=512, help="distinct request bodies built up front")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write the records here (JSON)")
    args = parser.parse_args(argv)
    doc = asyncio.run(run(args))
    ok = sum(1 for r in doc["records"] if r["ok"])
    print(f"raw_client: {len(doc['records'])} requests, {ok} ok, "
          f"{sum(r['output_tokens'] or 0 for r in doc['records'])} output tokens", flush=True)
    if args.out:
        args.out.write_text(json.dumps(doc), encoding="utf-8")
    return 0 if ok == len(doc["records"]) and ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
