"""One promotion from start to end: take the stack's lock, arm the time limit, run the machine.

Kept apart from the CLI so that tests drive exactly this with stand-in
adapters; the command only builds the real adapters and prints.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from gpufleet.core.slo import SloSpec
from gpufleet.promote.audit import AuditLog
from gpufleet.promote.lock import LockHeld, PromotionLock
from gpufleet.promote.machine import (
    EXIT_CANNOT_RUN,
    Gate,
    LiveAnalysis,
    Outcome,
    Promotion,
    Result,
    RolloutCheck,
    Target,
    TrafficStack,
    Watchdog,
)
from gpufleet.promote.plan import Plan


def run_promotion(
    plan: Plan,
    *,
    slo: SloSpec,
    target: Target,
    stack: TrafficStack | None,
    rollout: RolloutCheck,
    gate: Gate,
    audit: AuditLog,
    lock: PromotionLock | None,
    settle_s: float = 0.0,
    dry_run: bool = False,
    timeout_s: float | None = None,
    say: Callable[[str], None] = lambda _line: None,
    sleep: Callable[[float], None] = time.sleep,
    rollback_retry_s: float = 15.0,
    analysis: LiveAnalysis | None = None,
    rehearsal: bool = False,
) -> Outcome:
    """Refused (exit 2) when another promotion holds the lock; otherwise the machine's outcome."""
    if lock is not None:
        try:
            lock.acquire()
        except LockHeld as exc:
            audit.record("refused", why=str(exc), holder=exc.holder)
            return Outcome(Result.REFUSED, EXIT_CANNOT_RUN, str(exc), None)
    try:
        with Watchdog(timeout_s) as watchdog:
            return Promotion(
                plan, stack=stack, rollout=rollout, gate=gate, slo=slo, target=target, audit=audit,
                settle_s=settle_s, dry_run=dry_run, sleep=sleep, say=say, disarm=watchdog.disarm,
                rollback_retry_s=rollback_retry_s, analysis=analysis, rehearsal=rehearsal,
            ).run()
    finally:
        if lock is not None:
            lock.release()
