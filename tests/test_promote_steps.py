"""The iterations of one step: the failure limit, the rule that a step ends on a pass, and interrupts."""

from __future__ import annotations

from typing import Any

import pytest

from gpufleet.promote.analysis import Iteration, Verdict
from gpufleet.promote.steps import StepAnalysis
from gpufleet.promote.watchdog import PromotionTimeout

P, F, I, N = Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE, Verdict.INVALID


class ScriptedAnalyzer:
    def __init__(self, *verdicts: Verdict) -> None:
        self.verdicts = list(verdicts)
        self.calls: list[dict[str, Any]] = []

    def iteration(self, **kwargs: Any) -> Iteration:
        self.calls.append(kwargs)
        verdict = self.verdicts.pop(0)
        return Iteration(kwargs["step"], kwargs["number"], kwargs["at"], kwargs["window_s"], verdict, f"{verdict} why")


def run(*verdicts: Verdict, iterations: int = 3, limit: int = 2, sleep=None):
    analyzer = ScriptedAnalyzer(*verdicts)
    records: list[tuple[str, dict[str, Any]]] = []
    clock = iter(range(1000, 2000, 10))
    sleeps: list[float] = []
    steps = StepAnalysis(analyzer, interval_s=10.0, iterations=iterations, failure_limit=limit,  # type: ignore[arg-type]
                         record=lambda event, **f: records.append((event, f)), sleep=sleep or sleeps.append,
                         clock=lambda: float(next(clock)))
    result = steps.run_step(2, 50, "green", "blue")
    return result, records, analyzer, sleeps


def test_all_pass():
    result, records, analyzer, sleeps = run(P, P, P)
    assert (result.passed, result.verdict, result.reason) == (True, "pass", "3 of 3 iterations passed, the last 3 in a row")
    assert sleeps == [10.0, 10.0, 10.0]  # each window is waited for before it is judged
    assert [f["iteration"] for _, f in records] == [1, 2, 3]
    assert all(e == "analysis" and f["share"] == 50 and f["baseline"] == "blue" for e, f in records)
    assert [c["at"] for c in analyzer.calls] == [1000.0, 1010.0, 1020.0]
    assert result.to_dict() == {"passed": True, "verdict": "pass", "reason": result.reason, "iterations": 3,
                                "counts": {"pass": 3}}


@pytest.mark.parametrize("script, n", [((F, F), 2), ((I, I), 2), ((N, N), 2), ((P, F, I), 3), ((F, P, N, I), 4)])
def test_consecutive_non_pass_iterations_stop_the_step(script, n):
    result, records, _, _ = run(*script)
    assert not result.passed and len(result.iterations) == n
    last = script[-1].value
    assert result.verdict == last
    assert result.reason == f"2 consecutive iterations not passing (failureLimit 2); last: {last}: {last} why"


def test_a_step_ends_on_a_pass_even_past_its_iterations():
    result, _, _, _ = run(P, P, F, P)
    assert result.passed and len(result.iterations) == 4
    assert result.reason == "3 of 4 iterations passed, the last 1 in a row"
    result, _, _, _ = run(P, P, F, F)
    assert not result.passed and len(result.iterations) == 4


def test_isolated_failures_below_the_limit_do_not_stop_it():
    result, _, _, _ = run(F, P, F, P, P, iterations=5, limit=2)
    assert result.passed and result.to_dict()["counts"] == {"fail": 2, "pass": 3}


def test_a_limit_of_one_stops_at_the_first_non_pass():
    result, _, _, _ = run(P, I, iterations=3, limit=1)
    assert not result.passed and len(result.iterations) == 2


@pytest.mark.parametrize("exc, why", [(KeyboardInterrupt(), "interrupted (Ctrl-C) during analysis"),
                                      (PromotionTimeout("the promotion ran longer than --timeout 60 s"),
                                       "timed out: the promotion ran longer than --timeout 60 s during analysis")])
def test_an_interrupt_mid_analysis_is_recorded_then_raised(exc, why):
    calls = []

    def sleep(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) == 2:
            raise exc

    records: list[tuple[str, dict[str, Any]]] = []
    steps = StepAnalysis(ScriptedAnalyzer(P, P, P), interval_s=10.0, iterations=3, failure_limit=2,  # type: ignore[arg-type]
                         record=lambda event, **f: records.append((event, f)), sleep=sleep, clock=lambda: 0.0)
    with pytest.raises(type(exc)):
        steps.run_step(2, 50, "green", "blue")
    assert [f["verdict"] for _, f in records] == ["pass", "interrupted"]
    assert records[-1][1] == {"step": 2, "iteration": 2, "share": 50, "baseline": "blue", "verdict": "interrupted",
                              "reason": why}
