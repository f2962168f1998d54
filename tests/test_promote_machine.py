"""The promotion state machine with Pulumi, Kubernetes and the gate replaced by stand-ins at their interfaces.

Every failure case ends with the stack at the last good weights, and the audit
log saying why.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any


from gpufleet.loadtest.gate import Check, GateResult, Verdict
from gpufleet.core.slo import SloSpec
from gpufleet.promote.audit import AuditLog, read_audit
from gpufleet.promote.lock import PromotionLock
from gpufleet.promote.machine import (
    ApplyError,
    Outcome,
    PromotionTimeout,
    Result,
    RolloutStatus,
    Target,
)
from gpufleet.promote.plan import build_plan
from gpufleet.promote.session import run_promotion
from gpufleet.core.traffic_config import parse_traffic

SLO = SloSpec.model_validate({"targetUsers": 8, "durationS": 60, "ttftP95Ms": 800, "minSamples": 100})
TRAFFIC = parse_traffic({"hostname": "assistant.example.com", "dnsZone": "example.com", "stackWeight": 50,
                         "releaseWeights": {"blue": 100, "green": 0}})
START = {"blue": 100, "green": 0}
W10, W50, W100 = {"blue": 90, "green": 10}, {"blue": 50, "green": 50}, {"blue": 0, "green": 100}
TARGET = Target("http://k8s-gateway-0123.elb.us-east-1.amazonaws.com/release/green", "qwen3-8b")
PASS, FAIL, INVALID = Verdict.PASS, Verdict.FAIL, Verdict.INVALID


def gate_result(verdict: Verdict) -> GateResult:
    observed = {PASS: 512.0, FAIL: 1290.0, INVALID: 431.0}[verdict]
    checks = (Check("samples", "validity", ">=", 100, 40 if verdict is INVALID else 480, verdict is not INVALID),
              Check("ttft_p95_ms", "slo", "<=", 800.0, observed, verdict is not FAIL))
    reason = {PASS: "all objectives met under a valid measurement", FAIL: "objectives missed: ttft_p95_ms",
              INVALID: "measurement not valid: samples"}[verdict]
    return GateResult(verdict, checks, reason)


class FakeStack:
    """TrafficStack stand-in: remembers what is deployed; `failures` maps the n-th apply (1-based) to an error."""

    def __init__(self, failures: Mapping[int, BaseException] | None = None) -> None:
        self.deployed: dict[str, int] = dict(START)
        self.config: dict[str, int] = dict(START)
        self.applies: list[dict[str, int]] = []
        self.messages: list[str] = []
        self.failures = dict(failures or {})

    def apply(self, weights: Mapping[str, int], *, message: str) -> None:
        self.applies.append(dict(weights))
        self.messages.append(message)
        self.config = dict(weights)  # set_config happens before up
        error = self.failures.get(len(self.applies))
        if error is not None:
            raise error
        self.deployed = dict(weights)


class ScriptedGate:
    """Gate stand-in: answers the scripted verdicts in order (an exception instance is raised instead)."""

    def __init__(self, *script: Verdict | BaseException) -> None:
        self.script = list(script)
        self.calls: list[tuple[str, str, int]] = []

    def check(self, target_url: str, model: str, slo: SloSpec, share: int) -> GateResult:
        self.calls.append((target_url, model, share))
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        return gate_result(item)


class ScriptedRollout:
    """RolloutCheck stand-in: ready unless the n-th check (1-based) is scripted as not ready."""

    def __init__(self, not_ready: Mapping[int, str] | None = None) -> None:
        self.not_ready = dict(not_ready or {})
        self.calls = 0

    def check(self, release: str) -> RolloutStatus:
        self.calls += 1
        reason = self.not_ready.get(self.calls)
        if reason:
            return RolloutStatus(False, reason, details={"deployment": f"llm-{release}/vllm-{release}"})
        return RolloutStatus(True, f"llm-{release}/vllm-{release}: 2/2 replicas updated, available and ready")


class Run:
    def __init__(self, tmp_path: Path, gate: ScriptedGate, *, stack: FakeStack | None = None,
                 rollout: ScriptedRollout | None = None, dry_run: bool = False, settle_s: float = 30.0,
                 sleep=None, timeout_s: float | None = None, lock_dir: Path | None = None) -> None:
        self.stack = stack if stack is not None else (None if dry_run else FakeStack())
        self.gate = gate
        self.rollout = rollout or ScriptedRollout()
        self.sleeps: list[float] = []
        self.lines: list[str] = []
        self.audit_path = tmp_path / "audit.jsonl"
        self.audit = AuditLog(self.audit_path, stack="prod-us-east-1", candidate="green", actor="sre@bastion-1",
                              promotion_id="p-0001")
        plan = build_plan("prod-us-east-1", TRAFFIC, "green", (10, 50, 100), jurisdiction="global", cloud="aws",
                          releases={"blue": 4, "green": 2})
        lock = PromotionLock(lock_dir or tmp_path / "locks", "prod-us-east-1",
                             {"who": "sre@bastion-1", "candidate": "green", "since": "2026-03-01T09:00:00Z",
                              "promotion": "p-0001"})
        self.outcome: Outcome = run_promotion(
            plan, slo=SLO, target=TARGET, stack=self.stack, rollout=self.rollout, gate=gate, audit=self.audit,
            lock=lock, settle_s=settle_s, dry_run=dry_run, timeout_s=timeout_s, say=self.lines.append,
            sleep=sleep or self.sleeps.append, rollback_retry_s=5.0,
        )
        self.events = read_audit(self.audit_path)

    def kinds(self) -> list[str]:
        return [e["event"] for e in self.events]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == kind]

    def finished(self) -> dict[str, Any]:
        (event,) = self.of("finished")
        return event


# ---------------------------------------------------------------- success


def test_pass_at_every_step_applies_each_step_and_rechecks_under_the_new_share(tmp_path: Path) -> None:
    run = Run(tmp_path, ScriptedGate(PASS, PASS, PASS, PASS))
    assert run.outcome == Outcome(Result.PROMOTED, 0, "green promoted to 100%", W100)
    assert run.stack.applies == [W10, W50, W100]
    assert run.stack.deployed == W100
    assert [share for _, _, share in run.gate.calls] == [0, 10, 50, 100]
    assert all(url == TARGET.url and model == "qwen3-8b" for url, model, _ in run.gate.calls)
    assert run.sleeps == [30.0, 30.0, 30.0]
    assert run.rollout.calls == 4
    assert run.kinds() == ["plan", "check", "apply", "applied", "settle", "check", "apply", "applied", "settle",
                           "check", "apply", "applied", "settle", "check", "finished"]
    first = run.events[0]
    assert (first["who"], first["stack"], first["candidate"], first["promotion"]) == (
        "sre@bastion-1", "prod-us-east-1", "green", "p-0001")
    assert first["ts"].endswith("Z") and first["weights_before"] == START
    assert first["slo"]["ttftP95Ms"] == 800
    check = run.of("check")[1]
    assert (check["step"], check["phase"], check["share"], check["verdict"], check["weights"]) == (
        1, "recheck", 10, "pass", W10)
    assert check["gate"]["checks"][1] == {"name": "ttft_p95_ms", "kind": "slo", "op": "<=", "threshold": 800.0,
                                          "observed": 512.0, "passed": True}
    assert check["rollout"]["ready"] is True
    applied = run.of("applied")[1]
    assert (applied["weights_before"], applied["weights_after"]) == (W10, W50)
    assert "gpufleet promote green (p-0001 by sre@bastion-1): step 2: blue=50, green=50" == run.stack.messages[1]


# ---------------------------------------------------------------- gate failures


def assert_stopped(run: Run, *, weights: dict[str, int], applies: list[dict[str, int]], reason: str,
                   result: Result = Result.ROLLED_BACK, code: int = 1) -> None:
    assert run.outcome.result is result and run.outcome.exit_code == code
    assert run.outcome.weights == weights
    assert run.outcome.reason == reason
    assert run.stack.applies == applies
    assert run.stack.deployed == weights and run.stack.config == weights
    assert run.finished()["reason"] == reason and run.finished()["weights"] == weights
    assert run.of("rollback")[-1]["why"] == reason


def test_fail_at_the_first_step_changes_nothing(tmp_path: Path) -> None:
    run = Run(tmp_path, ScriptedGate(FAIL))
    assert_stopped(run, weights=START, applies=[],
                   reason="step 1 gate verdict fail: objectives missed: ttft_p95_ms")
    assert run.of("rollback")[0]["needed"] is False
    assert run.of("check")[0]["gate"]["checks"][1]["observed"] == 1290.0


def test_fail_at_a_middle_step_restores_the_previous_step(tmp_path: Path) -> None:
    run = Run(tmp_path, ScriptedGate(PASS, PASS, FAIL))
    assert_stopped(run, weights=W10, applies=[W10, W50, W10],
                   reason="step 2 recheck verdict fail: objectives missed: ttft_p95_ms")
    rollback = run.of("rollback")[0]
    assert (rollback["needed"], rollback["ok"], rollback["weights_before"], rollback["weights_after"]) == (
        True, True, W50, W10)


def test_fail_at_the_last_step_restores_the_step_before(tmp_path: Path) -> None:
    run = Run(tmp_path, ScriptedGate(PASS, PASS, PASS, FAIL))
    assert_stopped(run, weights=W50, applies=[W10, W50, W100, W50],
                   reason="step 3 recheck verdict fail: objectives missed: ttft_p95_ms")


def test_invalid_verdict_stops_like_a_fail(tmp_path: Path) -> None:
    run = Run(tmp_path, ScriptedGate(PASS, INVALID))
    assert_stopped(run, weights=START, applies=[W10, START],
                   reason="step 1 recheck verdict invalid: measurement not valid: samples")


def test_a_candidate_not_rolled_out_is_invalid_and_the_gate_is_not_run(tmp_path: Path) -> None:
    rollout = ScriptedRollout({2: "llm-green/vllm-green not fully rolled out: replicas 2, updated 1, available 1"})
    run = Run(tmp_path, ScriptedGate(PASS), rollout=rollout)
    assert_stopped(run, weights=START, applies=[W10, START], reason=(
        "step 1 recheck verdict invalid: harness error: candidate not ready: llm-green/vllm-green not fully "
        "rolled out: replicas 2, updated 1, available 1"))
    assert len(run.gate.calls) == 1
    assert run.of("check")[1]["rollout"] == {
        "ready": False, "skipped": False, "deployment": "llm-green/vllm-green",
        "reason": "llm-green/vllm-green not fully rolled out: replicas 2, updated 1, available 1"}


def test_a_gate_that_raises_fails_closed(tmp_path: Path) -> None:
    run = Run(tmp_path, ScriptedGate(PASS, OSError("connection reset by peer")))
    assert_stopped(run, weights=START, applies=[W10, START], reason=(
        "step 1 recheck verdict invalid: harness error: the gate raised OSError('connection reset by peer')"))


# ---------------------------------------------------------------- Pulumi, interrupts, timeouts


def test_pulumi_up_failure_midway_restores_the_last_good_weights(tmp_path: Path) -> None:
    stack = FakeStack({2: ApplyError("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute (llm): error: timed out")})
    run = Run(tmp_path, ScriptedGate(PASS, PASS), stack=stack)
    assert_stopped(run, weights=W10, applies=[W10, W50, W10], reason=(
        "pulumi failed at step 2: kubernetes:gateway.networking.k8s.io/v1:HTTPRoute (llm): error: timed out"))
    assert run.kinds() == ["plan", "check", "apply", "applied", "settle", "check", "apply", "rollback", "finished"]


def test_interrupt_during_a_check_restores_and_exits_130(tmp_path: Path) -> None:
    run = Run(tmp_path, ScriptedGate(PASS, PASS, KeyboardInterrupt()))
    assert_stopped(run, weights=W10, applies=[W10, W50, W10], reason="interrupted (Ctrl-C)",
                   result=Result.INTERRUPTED, code=130)


def test_interrupt_while_settling_restores_and_exits_130(tmp_path: Path) -> None:
    def sleep(seconds: float) -> None:
        raise KeyboardInterrupt

    run = Run(tmp_path, ScriptedGate(PASS), sleep=sleep)
    assert_stopped(run, weights=START, applies=[W10, START], reason="interrupted (Ctrl-C)",
                   result=Result.INTERRUPTED, code=130)


def test_timeout_inside_a_check_restores(tmp_path: Path) -> None:
    run = Run(tmp_path, ScriptedGate(PASS, PASS, PromotionTimeout("the promotion ran longer than --timeout 900 s")))
    assert_stopped(run, weights=W10, applies=[W10, W50, W10],
                   reason="timed out: the promotion ran longer than --timeout 900 s")


class SlowGate(ScriptedGate):
    def check(self, target_url: str, model: str, slo: SloSpec, share: int) -> GateResult:
        if len(self.calls) == 1:
            time.sleep(5)  # the watchdog fires in here
        return super().check(target_url, model, slo, share)


def test_the_watchdog_interrupts_a_hanging_step(tmp_path: Path) -> None:
    started = time.monotonic()
    run = Run(tmp_path, SlowGate(PASS, PASS), timeout_s=0.5, settle_s=0.0)
    assert time.monotonic() - started < 4
    assert_stopped(run, weights=START, applies=[W10, START],
                   reason="timed out: the promotion ran longer than --timeout 0.5 s")


def test_a_busy_stack_is_retried_during_rollback(tmp_path: Path) -> None:
    busy = ApplyError("another update is running on 'prod-us-east-1': [409] Conflict", retryable=True)
    stack = FakeStack({3: busy})
    run = Run(tmp_path, ScriptedGate(PASS, PASS, FAIL), stack=stack)
    assert_stopped(run, weights=W10, applies=[W10, W50, W10, W10],
                   reason="step 2 recheck verdict fail: objectives missed: ttft_p95_ms")
    assert run.sleeps == [30.0, 30.0, 5.0]
    assert [(e["attempt"], e["ok"]) for e in run.of("rollback")] == [(1, False), (2, True)]


def test_a_failed_rollback_says_so_and_exits_3(tmp_path: Path) -> None:
    stack = FakeStack({3: ApplyError("error: provider credentials expired")})
    run = Run(tmp_path, ScriptedGate(PASS, PASS, FAIL), stack=stack)
    assert run.outcome.result is Result.ROLLBACK_FAILED and run.outcome.exit_code == 3
    assert run.outcome.weights is None
    assert run.outcome.reason == (
        "step 2 recheck verdict fail: objectives missed: ttft_p95_ms; restoring blue=90, green=10 failed: run "
        "`pulumi up --stack prod-us-east-1` after checking gpufleet:traffic.releaseWeights")
    assert run.of("rollback")[0]["error"] == "error: provider credentials expired"
    assert run.finished()["exit_code"] == 3


# ---------------------------------------------------------------- dry run


def test_dry_run_checks_every_step_and_applies_nothing(tmp_path: Path) -> None:
    run = Run(tmp_path, ScriptedGate(PASS, PASS, PASS), dry_run=True)
    assert run.outcome == Outcome(Result.DRY_RUN_PASSED, 0, "every check passed (dry run: nothing applied)", START)
    assert [share for _, _, share in run.gate.calls] == [0, 0, 0]
    assert run.sleeps == []
    assert [(e["step"], e["dry_run"], e["weights_after"]) for e in run.of("apply")] == [
        (1, True, W10), (2, True, W50), (3, True, W100)]
    assert "step 2: would set blue=50, green=50 (dry run: nothing applied)" in run.lines


def test_dry_run_failure_reports_what_would_have_happened(tmp_path: Path) -> None:
    run = Run(tmp_path, ScriptedGate(PASS, FAIL), dry_run=True)
    assert run.outcome == Outcome(Result.DRY_RUN_FAILED, 1, "step 2 gate verdict fail: objectives missed: ttft_p95_ms",
                                  START)
    assert run.of("rollback")[0]["note"] == "dry run: nothing was applied"


# ---------------------------------------------------------------- the lock


def test_a_concurrent_promotion_of_the_same_stack_is_refused(tmp_path: Path) -> None:
    holder = PromotionLock(tmp_path / "locks", "prod-us-east-1",
                           {"who": "alice@ops-2", "candidate": "green", "since": "2026-03-01T08:55:00Z",
                            "promotion": "p-0000"})
    with holder:
        run = Run(tmp_path, ScriptedGate(PASS))
    assert run.outcome.result is Result.REFUSED and run.outcome.exit_code == 2
    assert run.outcome.reason.startswith(
        "stack 'prod-us-east-1' is already being promoted by alice@ops-2 (pid ")
    assert "promoting to green since 2026-03-01T08:55:00Z, promotion p-0000); lock file " in run.outcome.reason
    assert run.stack.applies == [] and run.gate.calls == []
    (refused,) = run.events
    assert refused["event"] == "refused" and refused["holder"]["who"] == "alice@ops-2"
    # Released: the next promotion goes ahead.
    assert Run(tmp_path, ScriptedGate(PASS, PASS, PASS, PASS)).outcome.result is Result.PROMOTED


def test_an_unexpected_error_still_restores_the_last_good_weights(tmp_path: Path) -> None:
    stack = FakeStack({2: FileNotFoundError(2, "No such file or directory", "pulumi")})
    run = Run(tmp_path, ScriptedGate(PASS, PASS), stack=stack)
    assert_stopped(run, weights=W10, applies=[W10, W50, W10], reason=(
        "unexpected error at step 2: FileNotFoundError(2, 'No such file or directory')"))
