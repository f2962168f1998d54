"""One place that asks the provider, counts, logs and applies fail-closed.

`check` answers `Decision.ALLOW`, `BLOCK` or `REFUSE` (the provider failed and
the stage is fail-closed). With fail-open (non-prod stacks only) a failure is
counted, logged as `fail_open` and allowed.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from enum import Enum

from gpufleet.moderation.decisions import DecisionLog
from gpufleet.moderation.metrics import ModerationMetrics
from gpufleet.moderation.providers import Direction, ModerationError, Provider, Verdict, screen_with_timeout
from gpufleet.moderation.window import segments


class Decision(Enum):
    ALLOW = "allow"
    BLOCK = "block"
    REFUSE = "refuse"


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    user_hash: str | None


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    verdict: Verdict | None = None
    detail: str | None = None


class Screener:
    def __init__(self, provider: Provider, metrics: ModerationMetrics, log: DecisionLog, *,
                 timeout_s: float, fail_open: bool, max_chars: int, overlap: int) -> None:
        self.provider = provider
        self.metrics = metrics
        self.log = log
        self.timeout_s = timeout_s
        self.fail_open = fail_open
        self.max_chars = max_chars
        self.overlap = overlap

    async def check(self, text: str, direction: Direction, ctx: RequestContext) -> Outcome:
        """Screen `text` (split into provider-sized segments, checked concurrently)."""
        if not text.strip():
            return Outcome(Decision.ALLOW)
        parts = segments(text, self.max_chars, self.overlap)
        try:
            verdicts = await asyncio.gather(*(self._one(p, direction, ctx) for p in parts))
        except ModerationError as exc:
            return self._failed(exc, direction, ctx, text)
        for verdict in verdicts:
            if verdict.blocked:
                for category in verdict.categories or ("unspecified",):
                    self.metrics.blocks.labels(self.provider.name, direction, category).inc()
                self.log.record(request_id=ctx.request_id, user_hash=ctx.user_hash, direction=direction,
                                decision="block", categories=verdict.categories, risk_level=verdict.risk_level,
                                provider_request_id=verdict.provider_request_id, text=text)
                return Outcome(Decision.BLOCK, verdict)
        return Outcome(Decision.ALLOW)

    async def _one(self, text: str, direction: Direction, ctx: RequestContext) -> Verdict:
        self.metrics.checks.labels(self.provider.name, direction).inc()
        started = time.perf_counter()
        try:
            return await screen_with_timeout(self.provider, text, direction, request_id=ctx.request_id,
                                             timeout_s=self.timeout_s)
        finally:
            self.metrics.check_seconds.labels(self.provider.name, direction).observe(time.perf_counter() - started)

    def _failed(self, exc: ModerationError, direction: Direction, ctx: RequestContext, text: str) -> Outcome:
        self.metrics.errors.labels(self.provider.name, direction, exc.kind).inc()
        decision = "fail_open" if self.fail_open else exc.kind
        if self.fail_open:
            self.metrics.fail_open.labels(self.provider.name, direction).inc()
        self.log.record(request_id=ctx.request_id, user_hash=ctx.user_hash, direction=direction, decision=decision,
                        detail=str(exc), text=text)
        return Outcome(Decision.ALLOW if self.fail_open else Decision.REFUSE, detail=str(exc))
