"""Real-time driver of the model: one timer task advances and writes every stream.

A sleep per token per request would cost a task wake-up per token; instead a
single task keeps a heap of due events (prefill batch starts, first tokens,
next chunks), sleeps until the earliest one and then writes every stream that
is due in one pass. Event times come from the pure :mod:`model` and are
chained from the *scheduled* time of the previous chunk, so event-loop lag
delays a write but never accumulates into drift. Truth timestamps are taken
with ``time.time()`` right after each write returns.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from gpufleet.simserver.faults import FaultPlan
from gpufleet.simserver.metrics import VllmMetrics
from gpufleet.simserver.model import Scheduler, Sequence
from gpufleet.simserver.protocol import DONE, MALFORMED, StreamFormatter
from gpufleet.simserver.truth import TruthRecord

__all__ = ["Engine", "Job", "OK", "CLIENT_DISCONNECT", "INJECTED_DISCONNECT"]

OK = "ok"
CLIENT_DISCONNECT = "client_disconnect"
INJECTED_DISCONNECT = "injected_disconnect"

_PREFILL, _FIRST, _CHUNK = 0, 1, 2
_NONSTREAM_BLOCK = 16  # tokens per scheduling step of a non-streamed request
_MAX_EVENTS_PER_PASS = 1024  # then yield, so a backlog cannot starve the loop


class Job:
    """Per-request state shared by the HTTP handler and the engine."""

    __slots__ = (
        "seq", "record", "plan", "stream", "include_usage", "formatter", "resp",
        "transport", "tokens", "sent", "chunk_no", "itls", "done", "outcome",
    )

    def __init__(
        self,
        *,
        seq: Sequence,
        record: TruthRecord,
        plan: FaultPlan,
        tokens: list[str],
        done: asyncio.Future[str],
        stream: bool = False,
        include_usage: bool = False,
        formatter: StreamFormatter | None = None,
        resp: web.StreamResponse | None = None,
        transport: asyncio.BaseTransport | None = None,
    ) -> None:
        self.seq = seq
        self.record = record
        self.plan = plan
        self.tokens = tokens
        self.done = done
        self.stream = stream
        self.include_usage = include_usage
        self.formatter = formatter
        self.resp = resp
        self.transport = transport
        self.sent = 0
        self.chunk_no = 0
        self.itls: list[float] = []
        self.outcome: str | None = None

    @property
    def text(self) -> str:
        return "".join(self.tokens)


class Engine:
    """Owns the scheduler, the event heap and the single writer task."""

    def __init__(
        self,
        scheduler: Scheduler,
        metrics: VllmMetrics,
        *,
        tokens_per_chunk: int,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.scheduler = scheduler
        self.metrics = metrics
        self.tokens_per_chunk = tokens_per_chunk
        self._wall = wall_clock
        self._heap: list[tuple[float, int, int, Any]] = []
        self._counter = itertools.count()
        self._wake = asyncio.Event()
        self._prefill_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._side_tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle -------------------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def now(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    # -- requests --------------------------------------------------------
    def submit(self, job: Job) -> None:
        """Queue a request; its ``done`` future resolves with the outcome."""
        now = self.now()
        self.scheduler.submit(job.seq, now)
        self._after_change(now)

    def abandon(self, job: Job) -> None:
        """The handler went away (cancelled): free the request's slot."""
        if job.outcome is None:
            self._finish(job, CLIENT_DISCONNECT, self.now())

    # -- scheduling ------------------------------------------------------
    def _push(self, due: float, kind: int, job: Any) -> None:
        key = next(self._counter)
        heapq.heappush(self._heap, (due, key, kind, job))
        if self._heap[0][1] == key:  # new earliest event: re-arm the timer
            self._wake.set()

    def _after_change(self, now: float) -> None:
        for seq in self.scheduler.take_prefilled(now):
            job: Job = seq.payload
            assert seq.admitted_at is not None and seq.first_token_at is not None
            self.metrics.queue_time.observe(seq.admitted_at - seq.arrived_at)
            self._push(seq.first_token_at, _FIRST, job)
        nxt = self.scheduler.next_prefill_at()
        if nxt is not None and nxt != self._prefill_at:
            self._prefill_at = nxt
            self._push(nxt, _PREFILL, None)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        heap = self._heap
        while True:
            if not heap:
                self._wake.clear()
                await self._wake.wait()
                continue
            due = heap[0][0]
            if due > loop.time():
                self._wake.clear()
                handle = loop.call_at(due, self._wake.set)
                await self._wake.wait()
                handle.cancel()
                continue
            now = loop.time()
            handled = 0
            while heap and heap[0][0] <= now and handled < _MAX_EVENTS_PER_PASS:
                handled += 1
                due, _, kind, job = heapq.heappop(heap)
                if kind == _PREFILL:
                    self._prefill_at = None
                    self._after_change(now)
                elif job.outcome is None:
                    if self._congested(job):
                        task = loop.create_task(self._emit(job, due, kind == _FIRST))
                        self._side_tasks.add(task)
                        task.add_done_callback(self._side_tasks.discard)
                    else:
                        await self._emit(job, due, kind == _FIRST)
            if handled == _MAX_EVENTS_PER_PASS:
                await asyncio.sleep(0)  # catching up: let the HTTP handlers run too

    @staticmethod
    def _congested(job: Job) -> bool:
        """True when the socket already holds unsent data: the client is not
        keeping up, so its write goes to a side task instead of blocking the
        shared loop (an empty buffer plus one small chunk can never pause it)."""
        transport = job.transport
        return (
            job.stream
            and isinstance(transport, asyncio.WriteTransport)
            and transport.get_write_buffer_size() > 0
        )

    # -- emitting tokens -------------------------------------------------
    async def _emit(self, job: Job, due: float, first: bool) -> None:
        seq = job.seq
        now = self.now()
        metrics = self.metrics
        n = 1 if first else len(job.itls)
        if first:
            metrics.prompt_tokens.inc(seq.prompt_tokens)
            metrics.prefix_cache_queries.inc(seq.prompt_tokens)
            metrics.request_prompt_tokens.observe(seq.prompt_tokens)
            metrics.ttft.observe(now - seq.arrived_at)
        else:
            for itl in job.itls:
                metrics.itl.observe(itl)
        start = job.sent
        last = start + n >= seq.max_tokens
        chunk_no = job.chunk_no + 1
        plan = job.plan
        disconnect = plan.disconnect_after_chunk == chunk_no
        if job.stream:
            fmt = job.formatter
            assert fmt is not None
            parts = [fmt.tokens("".join(job.tokens[start:start + n]), "length" if last else None, first)]
            if plan.malformed_after_chunk == chunk_no:
                parts.append(MALFORMED)
            if last and not disconnect:
                if job.include_usage:
                    parts.append(fmt.usage(seq.prompt_tokens, seq.max_tokens))
                parts.append(DONE)
            if not await self._write(job, b"".join(parts), n):
                self._finish(job, CLIENT_DISCONNECT, now)
                return
        self.scheduler.add_generated(seq, n)
        metrics.generation_tokens.inc(n)
        job.sent = start + n
        job.chunk_no = chunk_no
        if job.stream and disconnect:
            assert job.transport is not None
            job.transport.close()  # flushes what was written, then drops the connection
            self._finish(job, INJECTED_DISCONNECT, now)
            return
        if last:
            self._finish(job, OK, now)
            return
        block = self.tokens_per_chunk if job.stream else _NONSTREAM_BLOCK
        m = min(block, seq.max_tokens - job.sent)
        itls = self.scheduler.decode_itls(seq, m)
        stall_k = plan.stall_after_token
        if stall_k is not None and job.sent <= stall_k < job.sent + m:
            itls[stall_k - job.sent] += plan.stall_s
        job.itls = itls
        self._push(due + sum(itls), _CHUNK, job)

    async def _write(self, job: Job, data: bytes, n_tokens: int) -> bool:
        resp = job.resp
        transport = job.transport
        assert resp is not None
        if transport is None or transport.is_closing():
            return False
        started = self._wall()
        try:
            await resp.write(data)
        except (ConnectionError, RuntimeError):
            return False
        job.record.wrote(self._wall(), n_tokens, started)
        return True

    def _finish(self, job: Job, outcome: str, now: float) -> None:
        job.outcome = outcome
        seq = job.seq
        self.scheduler.finish(seq, now)
        if outcome == OK:
            self.metrics.request_success["length"].inc()
            self.metrics.e2e.observe(now - seq.arrived_at)
            self.metrics.request_generation_tokens.observe(seq.max_tokens)
            if seq.max_tokens > 1 and seq.first_token_at is not None:
                # vLLM: decode time / (generated tokens - 1), per finished request.
                self.metrics.tpot.observe((now - seq.first_token_at) / (seq.max_tokens - 1))
        else:
            self.metrics.request_success["abort"].inc()
        if not job.done.done():
            job.done.set_result(outcome)
        self._after_change(now)
