"""A small, bounded open-loop client: streamed chat requests at a fixed rate, each one recorded.

Used by the observability scenario (test and demo) to drive the simulator while a
real Prometheus scrapes it, and to measure what the client saw (TTFT, status)
to compare with the recording rules. It runs its own event loop in a thread;
`stop()` (or `max_s`) ends it, and in-flight requests are awaited up to `drain_s`.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from dataclasses import dataclass

import aiohttp

__all__ = ["OpenLoopDriver", "Sample", "error_ratio", "percentile"]


@dataclass(frozen=True)
class Sample:
    started: float  # time.time()
    finished: float
    status: int  # HTTP status; 0 = connection failure
    ttft_s: float | None  # first content chunk, None when the request failed


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (the gate's definition)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def error_ratio(samples: list[Sample]) -> float:
    return sum(s.status >= 500 or s.status == 0 for s in samples) / len(samples)


class OpenLoopDriver:
    """`rate` requests/s (evenly spaced) to `url`'s chat completions, for at most `max_s` seconds."""

    def __init__(self, url: str, model: str, *, rate: float, max_tokens: int = 8, max_s: float = 120.0,
                 drain_s: float = 10.0) -> None:
        self.url, self.model, self.rate = url, model, rate
        self.max_tokens, self.max_s, self.drain_s = max_tokens, max_s, drain_s
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> OpenLoopDriver:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="open-loop-driver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> list[Sample]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.drain_s + 5)
        return list(self.samples)

    def window(self, since: float, until: float | None = None) -> list[Sample]:
        """Samples that finished in (since, until]."""
        end = until if until is not None else time.time()
        return [s for s in list(self.samples) if since < s.finished <= end]

    async def _run(self) -> None:
        deadline = time.monotonic() + self.max_s
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            tasks: set[asyncio.Task[None]] = set()
            step, due = 1.0 / self.rate, time.monotonic()
            while not self._stop.is_set() and time.monotonic() < deadline:
                task = asyncio.create_task(self._one(session))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                due += step
                await asyncio.sleep(max(0.0, due - time.monotonic()))
            if tasks:
                await asyncio.wait(tasks, timeout=self.drain_s)

    async def _one(self, session: aiohttp.ClientSession) -> None:
        body = {"model": self.model, "stream": True, "max_tokens": self.max_tokens,
                "messages": [{"role": "user", "content": "Say something short."}]}
        started, t0 = time.time(), time.perf_counter()
        ttft, status = None, 0
        try:
            async with session.post(f"{self.url}/v1/chat/completions", json=body) as resp:
                status = resp.status
                async for line in resp.content:
                    if ttft is None and line.startswith(b"data: {") and _has_content(line):
                        ttft = time.perf_counter() - t0
        except (aiohttp.ClientError, asyncio.TimeoutError):
            status = 0
        self.samples.append(Sample(started, time.time(), status, ttft if status == 200 else None))


def _has_content(line: bytes) -> bool:
    try:
        event = json.loads(line[6:])
    except ValueError:
        return False
    choices = event.get("choices") or []
    return bool(choices and (choices[0].get("delta") or {}).get("content"))
