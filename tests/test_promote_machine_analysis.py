"""The state machine with canary analysis: Prometheus, Kubernetes and Pulumi stubbed at their boundaries.

Prometheus answers from what the fake stack has deployed (the candidate's share), so a fault "starts at a
step" exactly as it would in a cluster. Every failure and data-gap path must end at the last good weights,
with the reason in the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from gpufleet.core.promotion_config import PromotionConfig
from gpufleet.promote.analysis import Analyzer
from gpufleet.promote.audit import AuditLog, read_audit
from gpufleet.promote.machine import ApplyError, Outcome, Result
from gpufleet.promote.plan import build_plan
from gpufleet.promote.prometheus import PrometheusClient, PrometheusError
from gpufleet.promote.session import run_promotion
from gpufleet.promote.steps import StepAnalysis
from promfake import HEALTHY, FakeTransport
from test_promote_machine import (PASS, SLO, START, TARGET, TRAFFIC, W10, W50, W100, FakeStack, ScriptedGate,
                                  ScriptedRollout)

CONFIG = PromotionConfig.model_validate({"intervalS": 10, "iterations": 3, "failureLimit": 2, "minRequests": 20})
Scenario = Callable[[str, str, int, int], float | None]  # (metric, release, green share, call) -> value


def healthy(metric: str, release: str, share: int, call: int) -> float | None:
    if metric == "requests":
        return {"green": share, "blue": 100 - share}[release] * 3.0  # requests follow the weights
    return HEALTHY[metric]


def with_fault(metric_name: str, value: float, from_share: int) -> Scenario:
    def scenario(metric: str, release: str, share: int, call: int) -> float | None:
        if release == "green" and metric == metric_name and share >= from_share:
            return value
        return healthy(metric, release, share, call)
    return scenario


class AnalysedRun:
    def __init__(self, tmp_path: Path, scenario: Scenario, *, stack: FakeStack | None = None,
                 sleep: Callable[[float], None] | None = None, rehearsal: bool = False,
                 rollout: ScriptedRollout | None = None, analysis: Any = None,
                 steps: tuple[int, ...] = (10, 50, 100)) -> None:
        self.stack = stack or FakeStack()
        self.now = 1_700_000_000.0
        self.sleeps: list[float] = []
        self.lines: list[str] = []
        self.calls = 0

        def values(metric: str, release: str) -> float | None:
            self.calls += 1
            return scenario(metric, release, self.stack.deployed["green"], self.calls)

        def fake_sleep(seconds: float) -> None:
            self.sleeps.append(seconds)
            if sleep is not None:
                sleep(seconds)
            self.now += seconds

        path = tmp_path / "audit.jsonl"
        audit = AuditLog(path, stack="prod-us-east-1", candidate="green", actor="sre@bastion-1", promotion_id="p-0002")
        self.transport = FakeTransport(values, CONFIG)
        analyzer = Analyzer(PrometheusClient(self.transport), CONFIG, SLO)
        self.analysis = analysis or StepAnalysis(
            analyzer, interval_s=CONFIG.interval_s, iterations=CONFIG.iterations, failure_limit=CONFIG.failure_limit,
            record=audit.record, say=self.lines.append, sleep=fake_sleep, clock=lambda: self.now)
        plan = build_plan("prod-us-east-1", TRAFFIC, "green", steps, jurisdiction="global", cloud="aws",
                          releases={"blue": 4, "green": 2})
        self.gate = ScriptedGate(PASS)  # only the gate before step 1: the shifts are judged on live traffic
        self.outcome: Outcome = run_promotion(
            plan, slo=SLO, target=TARGET, stack=self.stack, rollout=rollout or ScriptedRollout(), gate=self.gate,
            audit=audit, lock=None, settle_s=5.0, say=self.lines.append, sleep=fake_sleep, rollback_retry_s=1.0,
            analysis=self.analysis, rehearsal=rehearsal,
        )
        self.events = read_audit(path)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == kind]


def ends_at(run: AnalysedRun, weights: dict[str, int], reason: str, *, result: Result = Result.ROLLED_BACK,
            code: int = 1) -> None:
    assert run.outcome == Outcome(result, code, reason, weights)
    assert run.stack.deployed == weights and run.stack.config == weights
    assert run.events[-1]["event"] == "finished" and run.events[-1]["weights"] == weights
    assert run.of("rollback")[-1]["why"] == reason


def test_a_healthy_candidate_reaches_100_percent(tmp_path: Path) -> None:
    run = AnalysedRun(tmp_path, healthy)
    assert run.outcome == Outcome(Result.PROMOTED, 0, "green promoted to 100%", W100)
    assert run.stack.applies == [W10, W50, W100]
    assert run.gate.calls == [(TARGET.url, "qwen3-8b", 0)]
    analyses = run.of("analysis")
    assert [(a["step"], a["iteration"], a["verdict"]) for a in analyses] == [
        (s, i, "pass") for s in (1, 2, 3) for i in (1, 2, 3)]
    assert run.sleeps == [5.0, 10.0, 10.0, 10.0] * 3  # settle, then one interval per iteration
    checks = [c for c in run.of("check") if c["phase"] == "analysis"]
    assert [(c["step"], c["share"], c["baseline"], c["verdict"]) for c in checks] == [
        (1, 10, "blue", "pass"), (2, 50, "blue", "pass"), (3, 100, "blue", "pass")]
    assert checks[0]["analysis"]["counts"] == {"pass": 3}
    # the last step has no baseline traffic: it is compared with the baseline as measured at step 2
    ttft = next(c for c in analyses[-1]["checks"] if c["name"] == "ttft_p95_ms")
    assert (ttft["baseline"], ttft["baseline_from"]) == (60.0, "step 2 iteration 3")
    assert run.of("plan")[0]["analysis"] is True
    (baseline,) = run.of("baseline")  # measured once, after the gate and before the first shift
    assert (baseline["baseline"], baseline["requests"], baseline["values"]["ttft_p95_ms"]) == ("blue", 300.0, 60.0)
    kinds = [e["event"] for e in run.events]
    assert kinds.index("baseline") == kinds.index("apply") - 1


def test_a_single_step_to_100_percent_is_compared_with_the_baseline_before_the_shift(tmp_path: Path) -> None:
    run = AnalysedRun(tmp_path, with_fault("ttft_p95_ms", 75.0, from_share=100), steps=(100,))
    assert run.outcome.result is Result.ROLLED_BACK and run.outcome.weights == START
    assert run.outcome.reason.endswith("ttft_p95_ms 75.0 ms > 72.0 ms (baseline 60.0 ms x 1.2)")
    assert AnalysedRun(tmp_path / "ok", healthy, steps=(100,)).outcome.result is Result.PROMOTED


def test_a_prometheus_outage_before_the_shift_is_recorded_and_the_steps_still_decide(tmp_path: Path) -> None:
    def down_at_first(metric: str, release: str, share: int, call: int) -> float | None:
        if call == 1:
            raise PrometheusError("cannot reach Prometheus at fake: timed out")
        return healthy(metric, release, share, call)

    run = AnalysedRun(tmp_path, down_at_first)
    assert run.of("baseline")[0]["error"] == "cannot reach Prometheus at fake: timed out"
    assert run.outcome.result is Result.PROMOTED


def test_a_ttft_regression_from_step_2_rolls_back_to_step_1(tmp_path: Path) -> None:
    run = AnalysedRun(tmp_path, with_fault("ttft_p95_ms", 400.0, from_share=50))
    reason = ("step 2 analysis verdict fail: 2 consecutive iterations not passing (failureLimit 2); last: fail: "
              "ttft_p95_ms 400.0 ms > 72.0 ms (baseline 60.0 ms x 1.2)")
    ends_at(run, W10, reason)
    assert run.stack.applies == [W10, W50, W10]
    assert [(a["step"], a["verdict"]) for a in run.of("analysis")] == [(1, "pass")] * 3 + [(2, "fail")] * 2


def test_an_error_burst_at_the_first_step_restores_the_start(tmp_path: Path) -> None:
    run = AnalysedRun(tmp_path, with_fault("error_ratio", 0.3, from_share=10))
    assert run.outcome.weights == START and run.stack.deployed == START
    assert "error_ratio 0.3000 > 0.0050" in run.outcome.reason


def test_inconclusive_data_rolls_back_after_the_limit(tmp_path: Path) -> None:
    def no_tpot(metric: str, release: str, share: int, call: int) -> float | None:
        return None if metric == "tpot_p95_ms" else healthy(metric, release, share, call)

    run = AnalysedRun(tmp_path, no_tpot)
    ends_at(run, START, "step 1 analysis verdict inconclusive: 2 consecutive iterations not passing (failureLimit 2); "
                        "last: inconclusive: tpot_p95_ms: no data")


def test_too_few_requests_roll_back(tmp_path: Path) -> None:
    def trickle(metric: str, release: str, share: int, call: int) -> float | None:
        return 5.0 if metric == "requests" and release == "green" else healthy(metric, release, share, call)

    run = AnalysedRun(tmp_path, trickle)
    assert run.outcome.weights == START
    assert run.outcome.reason.endswith("last: inconclusive: too few requests: 5 < minRequests 20")


def test_no_traffic_reaching_the_candidate_is_invalid_and_rolls_back(tmp_path: Path) -> None:
    def ignored(metric: str, release: str, share: int, call: int) -> float | None:
        return 0.0 if metric == "requests" and release == "green" else healthy(metric, release, share, call)

    run = AnalysedRun(tmp_path, ignored)
    assert run.outcome.weights == START and run.outcome.exit_code == 1
    assert run.outcome.reason.startswith("step 1 analysis verdict invalid: 2 consecutive iterations not passing")
    assert "no traffic reached green in the last 10 s" in run.outcome.reason


def test_a_prometheus_outage_mid_analysis_rolls_back(tmp_path: Path) -> None:
    def outage_at_step_2(metric: str, release: str, share: int, call: int) -> float | None:
        if share >= 50:
            raise PrometheusError("cannot reach Prometheus at fake: timed out")
        return healthy(metric, release, share, call)

    run = AnalysedRun(tmp_path, outage_at_step_2)
    ends_at(run, W10, "step 2 analysis verdict inconclusive: 2 consecutive iterations not passing (failureLimit 2); "
                      "last: inconclusive: Prometheus: cannot reach Prometheus at fake: timed out")


def test_a_brief_outage_below_the_limit_does_not_stop_the_promotion(tmp_path: Path) -> None:
    def blip(metric: str, release: str, share: int, call: int) -> float | None:
        if share == 50 and metric == "requests" and release == "green" and not blip.done:
            blip.done = True
            raise PrometheusError("cannot reach Prometheus at fake: connection reset")
        return healthy(metric, release, share, call)
    blip.done = False

    run = AnalysedRun(tmp_path, blip)
    assert run.outcome.result is Result.PROMOTED
    assert [a["verdict"] for a in run.of("analysis") if a["step"] == 2] == ["inconclusive", "pass", "pass"]


def test_ctrl_c_during_analysis_is_recorded_then_restores_and_exits_130(tmp_path: Path) -> None:
    def sleep(seconds: float) -> None:
        if sleep.n == 5:  # step 1: settle + 3 intervals; step 2: settle, then its first interval
            raise KeyboardInterrupt
        sleep.n += 1
    sleep.n = 0

    run = AnalysedRun(tmp_path, healthy, sleep=sleep)
    ends_at(run, W10, "interrupted (Ctrl-C)", result=Result.INTERRUPTED, code=130)
    kinds = [e["event"] for e in run.events]
    assert kinds[-4:] == ["settle", "analysis", "rollback", "finished"]
    interrupted = run.of("analysis")[-1]
    assert (interrupted["step"], interrupted["iteration"], interrupted["verdict"], interrupted["reason"]) == (
        2, 1, "interrupted", "interrupted (Ctrl-C) during analysis")


def test_a_weight_apply_that_fails_restores_the_last_good_weights(tmp_path: Path) -> None:
    stack = FakeStack({2: ApplyError("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute (llm): error: timed out")})
    run = AnalysedRun(tmp_path, healthy, stack=stack)
    ends_at(run, W10, "pulumi failed at step 2: kubernetes:gateway.networking.k8s.io/v1:HTTPRoute (llm): error: "
                      "timed out")
    assert stack.applies == [W10, W50, W10]
    assert [a["step"] for a in run.of("analysis")] == [1, 1, 1]  # step 2 was never analysed


def test_a_candidate_that_stops_being_ready_is_not_analysed(tmp_path: Path) -> None:
    rollout = ScriptedRollout({3: "llm-green/vllm-green not fully rolled out: pods not ready: vllm-green-1"})
    run = AnalysedRun(tmp_path, healthy, rollout=rollout)
    ends_at(run, W10, "step 2 analysis verdict invalid: candidate not ready: llm-green/vllm-green not fully rolled "
                      "out: pods not ready: vllm-green-1")
    assert [a["step"] for a in run.of("analysis")] == [1, 1, 1]


def test_an_analysis_that_raises_fails_closed(tmp_path: Path) -> None:
    class Broken:
        def before_shift(self, candidate: str, baseline: str) -> None:
            pass

        def run_step(self, step: int, share: int, candidate: str, baseline: str) -> Any:
            raise ValueError("bad JSON")

    run = AnalysedRun(tmp_path, healthy, analysis=Broken())
    ends_at(run, START, "step 1 analysis verdict invalid: the analysis raised ValueError('bad JSON')")


def test_a_rehearsal_names_its_outcomes(tmp_path: Path) -> None:
    assert AnalysedRun(tmp_path / "a", healthy, rehearsal=True).outcome.result is Result.REHEARSAL_PROMOTED
    run = AnalysedRun(tmp_path / "b", with_fault("e2e_p95_ms", 9000.0, from_share=100), rehearsal=True)
    assert run.outcome.result is Result.REHEARSAL_ROLLED_BACK and run.outcome.weights == W50
    assert run.of("plan")[0]["rehearsal"] is True
