"""The promotion state machine: verify, shift, settle, re-verify; on any doubt, restore the last good weights.

Sequence (real run, steps s1..sn)::

    check candidate (rollout + gate at its current share)      -- gate for step 1
    measure the baseline on its live traffic (with analysis)
    for each step k: apply weights_k (set_config + up) -> settle -> rollout check, then
                     analyse the live traffic at share k (without analysis: the gate again)
                     (that verdict is also the gate for step k+1)

Only a `pass` moves traffic forward. `fail`, `invalid`, `inconclusive`, a
Pulumi error, a timeout or an interrupt stops the promotion, restores the last
weights that passed a check (set_config + up) and ends with a non-zero exit
code. A dry run performs the gate once per step and applies nothing.

The machine sees the world only through small protocols, `TrafficStack`
(Pulumi, or the rehearsal's router), `RolloutCheck` (Kubernetes), `Gate` (the
load test) and `LiveAnalysis` (Prometheus), so it is tested with stand-ins; the
real adapters live in `automation`, `kube`, `gates`, `steps`/`analysis`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from gpufleet.loadtest.gate import GateResult, harness_failure
from gpufleet.core.slo import SloSpec
from gpufleet.promote.audit import AuditLog
from gpufleet.promote.plan import Plan, Step, format_weights
from gpufleet.promote.watchdog import PromotionTimeout, Watchdog  # noqa: F401  (part of this module's API)

EXIT_OK = 0
EXIT_FAILED = 1  # a check did not pass or a step failed; the last good weights are back
EXIT_CANNOT_RUN = 2  # bad arguments or config, no Pulumi CLI, lock held: nothing was changed
EXIT_ROLLBACK_FAILED = 3  # the last good weights could not be restored: act by hand
EXIT_INTERRUPTED = 130  # Ctrl-C; the last good weights are back


class ApplyError(RuntimeError):
    """`pulumi up` (or set_config) failed; str() is one line."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable  # e.g. another update holds the stack: worth waiting for


@dataclass(frozen=True)
class RolloutStatus:
    ready: bool
    reason: str
    skipped: bool = False
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"ready": self.ready, "skipped": self.skipped, "reason": self.reason, **dict(self.details)}


class TrafficStack(Protocol):
    def apply(self, weights: Mapping[str, int], *, message: str) -> None:
        """Set `gpufleet:traffic.releaseWeights` to `weights` and run `pulumi up`; ApplyError on failure."""


class RolloutCheck(Protocol):
    def check(self, release: str) -> RolloutStatus: ...


class Gate(Protocol):
    def check(self, target_url: str, model: str, slo: SloSpec, share: int) -> GateResult: ...


class StepResult(Protocol):
    passed: bool
    verdict: str
    reason: str

    def to_dict(self) -> dict[str, Any]: ...


class LiveAnalysis(Protocol):
    """Canary analysis of the live traffic after a shift (`steps.StepAnalysis`)."""

    def before_shift(self, candidate: str, baseline: str) -> None:
        """Measure the baseline before anything moves (what a first step to 100% is compared with)."""

    def run_step(self, step: int, share: int, candidate: str, baseline: str) -> StepResult: ...


@dataclass(frozen=True)
class Target:
    url: str
    model: str


class Result(StrEnum):
    PROMOTED = "promoted"
    REHEARSAL_PROMOTED = "rehearsal-promoted"  # --dry-run --local: a local router was shifted, not the stack
    REHEARSAL_ROLLED_BACK = "rehearsal-rolled-back"
    DRY_RUN_PASSED = "dry-run-passed"
    DRY_RUN_FAILED = "dry-run-failed"
    ROLLED_BACK = "rolled-back"
    INTERRUPTED = "interrupted"
    ROLLBACK_FAILED = "rollback-failed"
    REFUSED = "refused"


@dataclass(frozen=True)
class Outcome:
    result: Result
    exit_code: int
    reason: str
    weights: dict[str, int] | None  # what the stack is at now (None: unknown after a failed rollback)


class _Stop(Exception):
    """A check did not pass: stop and roll back."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Promotion:
    """One promotion of `plan.candidate` on `plan.stack`; `run()` once."""

    def __init__(
        self,
        plan: Plan,
        *,
        stack: TrafficStack | None,
        rollout: RolloutCheck,
        gate: Gate,
        slo: SloSpec,
        target: Target,
        audit: AuditLog,
        settle_s: float = 0.0,
        dry_run: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        say: Callable[[str], None] = lambda _line: None,
        disarm: Callable[[], None] = lambda: None,
        rollback_attempts: int = 6,
        rollback_retry_s: float = 15.0,
        analysis: LiveAnalysis | None = None,
        rehearsal: bool = False,
    ) -> None:
        """`analysis`: judge each shift on live traffic (else the gate runs again); `rehearsal`: `stack`
        is a local stand-in (the rehearsal's router), so outcomes are named rehearsal-*."""
        if stack is None and not dry_run:
            raise ValueError("a real promotion needs a TrafficStack")
        self.plan = plan
        self.stack = stack
        self.rollout = rollout
        self.gate = gate
        self.slo = slo
        self.target = target
        self.audit = audit
        self.settle_s = settle_s
        self.dry_run = dry_run
        self.sleep = sleep
        self.say = say
        self.disarm = disarm
        self.rollback_attempts = rollback_attempts
        self.rollback_retry_s = rollback_retry_s
        self.analysis = analysis
        self.rehearsal = rehearsal
        self.last_good: dict[str, int] = dict(plan.start)
        # What the stack is at: None once a set_config/up was attempted and not confirmed.
        self.applied: dict[str, int] | None = dict(plan.start)

    # ------------------------------------------------------------ run

    def run(self) -> Outcome:
        plan = self.plan
        step = plan.steps[0]
        try:
            self.audit.record(
                "plan",
                dry_run=self.dry_run,
                rehearsal=self.rehearsal,
                analysis=self.analysis is not None,
                steps=[{"step": s.number, "share": s.share, "weights_before": s.before, "weights_after": s.after}
                       for s in plan.steps],
                weights_before=plan.start,
                target=self.target.url,
                model=self.target.model,
                settle_s=self.settle_s,
                slo=self.slo.model_dump(by_alias=True, exclude_none=True),
            )
            self._verify(plan.steps[0], phase="gate", share=plan.start[plan.candidate])
            if self.analysis is not None and not self.dry_run:
                self._before_shift(plan.steps[0])
            for step in plan.steps:
                if self.dry_run:
                    if step.number > 1:
                        self._verify(step, phase="gate", share=plan.start[plan.candidate])
                    self._would_apply(step)
                    continue
                self._apply(step)
                self._settle(step)
                if self.analysis is None:
                    self._verify(step, phase="recheck", share=step.share)
                else:
                    self._analyse(step)
                self.last_good = dict(step.after)
        except _Stop as stop:
            return self._end(stop.reason, interrupted=False)
        except ApplyError as exc:
            return self._end(f"pulumi failed at step {step.number}: {exc}", interrupted=False)
        except PromotionTimeout as exc:
            return self._end(f"timed out: {exc}", interrupted=False)
        except KeyboardInterrupt:
            return self._end("interrupted (Ctrl-C)", interrupted=True)
        except Exception as exc:  # fail closed: whatever broke, put the last good weights back
            return self._end(f"unexpected error at step {step.number}: {exc!r}", interrupted=False)
        return self._finish_ok()

    # ------------------------------------------------------------ phases

    def _rollout(self) -> RolloutStatus:
        try:
            rollout = self.rollout.check(self.plan.candidate)
        except Exception as exc:  # fail closed: an unreadable cluster is not a ready one
            rollout = RolloutStatus(False, f"the rollout check raised {exc!r}")
        if rollout.skipped:
            self.say("  rollout: check skipped (no cluster)")
        else:
            self.say(f"  rollout: {'ready' if rollout.ready else 'NOT READY'}: {rollout.reason}")
        return rollout

    def _baseline_of(self, step: Step) -> str:
        """The release losing the most traffic at this step (ties: alphabetical)."""
        others = {name: w for name, w in step.before.items() if name != self.plan.candidate}
        return max(sorted(others), key=lambda name: others[name])

    def _before_shift(self, step: Step) -> None:
        assert self.analysis is not None
        try:
            self.analysis.before_shift(self.plan.candidate, self._baseline_of(step))
        except Exception as exc:  # only a reference for later: the steps' own checks still decide
            self.audit.record("baseline", error=f"measuring the baseline raised {exc!r}")

    def _analyse(self, step: Step) -> None:
        """Rollout check, then canary analysis of the live traffic; raises _Stop unless the step passed."""
        assert self.analysis is not None
        candidate = self.plan.candidate
        baseline = self._baseline_of(step)
        self.say(f"step {step.number}: checking {candidate} (analysis, {step.share}% share)")
        rollout = self._rollout()
        verdict, reason, summary = "invalid", f"candidate not ready: {rollout.reason}", None
        if rollout.ready:
            try:
                result = self.analysis.run_step(step.number, step.share, candidate, baseline)
                reason, summary = result.reason, result.to_dict()
                # pass only when both say so; a step that did not pass is never reported as pass
                verdict = "pass" if result.passed and result.verdict == "pass" else (
                    "fail" if result.verdict == "pass" else result.verdict)
            except Exception as exc:  # fail closed: a broken analysis never reads as a pass
                verdict, reason = "invalid", f"the analysis raised {exc!r}"
        self.audit.record("check", step=step.number, phase="analysis", share=step.share, weights=self.applied,
                          baseline=baseline, rollout=rollout.to_dict(), verdict=verdict, reason=reason,
                          analysis=summary)
        self.say(f"  verdict: {verdict} ({reason})")
        if verdict != "pass":
            raise _Stop(f"step {step.number} analysis verdict {verdict}: {reason}")

    def _verify(self, step: Step, *, phase: str, share: int) -> None:
        """Rollout check, then the gate; raises _Stop unless both are fine and the verdict is pass."""
        candidate = self.plan.candidate
        self.say(f"step {step.number}: checking {candidate} ({phase}, {share}% share)")
        rollout = self._rollout()
        if not rollout.ready:
            result = harness_failure(f"candidate not ready: {rollout.reason}")
        else:
            try:
                result = self.gate.check(self.target.url, self.target.model, self.slo, share)
            except Exception as exc:  # fail closed: a broken gate never reads as a pass
                result = harness_failure(f"the gate raised {exc!r}")
        self.audit.record(
            "check",
            step=step.number,
            phase=phase,
            share=share,
            weights=self.applied,
            rollout=rollout.to_dict(),
            verdict=result.verdict.value,
            reason=result.reason,
            gate=result.to_dict(),
        )
        self.say(f"  verdict: {result.verdict.value} ({result.reason})")
        if not result.allows_traffic:
            raise _Stop(f"step {step.number} {phase} verdict {result.verdict.value}: {result.reason}")

    def _would_apply(self, step: Step) -> None:
        self.audit.record("apply", step=step.number, dry_run=True, applied=False,
                          weights_before=step.before, weights_after=step.after)
        self.say(f"step {step.number}: would set {format_weights(step.after)} (dry run: nothing applied)")

    def _apply(self, step: Step) -> None:
        assert self.stack is not None
        before = self.applied
        via = "the local router" if self.rehearsal else "pulumi up"
        self.say(f"step {step.number}: applying {format_weights(step.after)} ({via})")
        self.audit.record("apply", step=step.number, dry_run=False, applied=False,
                          weights_before=before, weights_after=step.after)
        self.applied = None
        self.stack.apply(step.after, message=self._message(f"step {step.number}: {format_weights(step.after)}"))
        self.applied = dict(step.after)
        self.audit.record("applied", step=step.number, weights_before=before, weights_after=step.after)

    def _settle(self, step: Step) -> None:
        self.audit.record("settle", step=step.number, seconds=self.settle_s)
        if self.settle_s > 0:
            self.say(f"step {step.number}: settling {self.settle_s:g} s")
            self.sleep(self.settle_s)

    # ------------------------------------------------------------ endings

    def _finish_ok(self) -> Outcome:
        self.disarm()
        if self.dry_run:
            outcome = Outcome(Result.DRY_RUN_PASSED, EXIT_OK, "every check passed (dry run: nothing applied)",
                              dict(self.plan.start))
        else:
            result = Result.REHEARSAL_PROMOTED if self.rehearsal else Result.PROMOTED
            outcome = Outcome(result, EXIT_OK, f"{self.plan.candidate} promoted to {self.plan.steps[-1].share}%",
                              dict(self.plan.final))
        return self._record_end(outcome)

    def _end(self, reason: str, *, interrupted: bool) -> Outcome:
        """Stop: restore the last good weights if anything else may be applied, then report."""
        self.disarm()
        self.say(f"stopping: {reason}")
        if self.dry_run:
            self.audit.record("rollback", needed=False, why=reason, note="dry run: nothing was applied",
                              weights=self.plan.start)
            result, code = (Result.INTERRUPTED, EXIT_INTERRUPTED) if interrupted else (Result.DRY_RUN_FAILED, EXIT_FAILED)
            return self._record_end(Outcome(result, code, reason, dict(self.plan.start)))  # Ctrl-C is 130 here too
        if self.applied == self.last_good:
            self.audit.record("rollback", needed=False, why=reason, note="the last good weights are still applied",
                              weights=self.last_good)
        else:
            restored = self._restore(reason)
            if not restored:
                return self._record_end(Outcome(
                    Result.ROLLBACK_FAILED, EXIT_ROLLBACK_FAILED,
                    f"{reason}; restoring {format_weights(self.last_good)} failed: run `pulumi up --stack "
                    f"{self.plan.stack}` after checking gpufleet:traffic.releaseWeights",
                    None,
                ))
        rolled_back = Result.REHEARSAL_ROLLED_BACK if self.rehearsal else Result.ROLLED_BACK
        result, code = (Result.INTERRUPTED, EXIT_INTERRUPTED) if interrupted else (rolled_back, EXIT_FAILED)
        return self._record_end(Outcome(result, code, reason, dict(self.last_good)))

    def _restore(self, reason: str) -> bool:
        assert self.stack is not None
        target = self.last_good
        self.say(f"rolling back to {format_weights(target)}")
        for attempt in range(1, self.rollback_attempts + 1):
            try:
                self.stack.apply(target, message=self._message(f"rollback to {format_weights(target)}: {reason}"))
            except Exception as exc:
                self.audit.record("rollback", needed=True, ok=False, why=reason, attempt=attempt, error=str(exc),
                                  weights_before=self.applied, weights_after=target)
                if isinstance(exc, ApplyError) and exc.retryable and attempt < self.rollback_attempts:
                    self.say(f"  rollback attempt {attempt} failed ({exc}); retrying in {self.rollback_retry_s:g} s")
                    try:
                        self.sleep(self.rollback_retry_s)
                    except KeyboardInterrupt:
                        return self._rollback_interrupted(reason, attempt)
                    continue
                return False
            except KeyboardInterrupt:
                return self._rollback_interrupted(reason, attempt)
            self.audit.record("rollback", needed=True, ok=True, why=reason, attempt=attempt,
                              weights_before=self.applied, weights_after=target)
            self.applied = dict(target)
            return True
        return False

    def _rollback_interrupted(self, reason: str, attempt: int) -> bool:
        self.audit.record("rollback", needed=True, ok=False, why=reason, attempt=attempt,
                          error="interrupted during rollback", weights_before=self.applied,
                          weights_after=self.last_good)
        return False

    def _record_end(self, outcome: Outcome) -> Outcome:
        self.audit.record("finished", result=outcome.result.value, exit_code=outcome.exit_code,
                          reason=outcome.reason, weights=outcome.weights)
        return outcome

    def _message(self, what: str) -> str:
        return f"gpufleet promote {self.plan.candidate} ({self.audit.promotion_id} by {self.audit.actor}): {what}"
