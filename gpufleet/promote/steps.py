"""The analysis of one promotion step: `iterations` windows of `intervalS`, with a failure limit.

After the step's weights are applied (and the settle time), each iteration
waits one interval, so the windows are disjoint and start after the shift,
then judges it (`analysis.Analyzer`). `failureLimit` consecutive iterations
that are not `pass` (fail, inconclusive or invalid) end the step as failed.
A step passes only when it has run its iterations *and its last iteration
passed*; if the last one did not, it runs on until one passes or the limit
is reached (so at most failureLimit - 1 extra iterations). Every iteration,
and an interrupt or time-out in the middle of one, is written to the audit
log before anything else happens.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gpufleet.promote.analysis import Analyzer, Iteration, Verdict
from gpufleet.promote.prometheus import PrometheusError
from gpufleet.promote.watchdog import PromotionTimeout

Record = Callable[..., Any]


@dataclass(frozen=True)
class StepVerdict:
    passed: bool
    verdict: str  # pass, or the verdict of the iteration that ended the step
    reason: str
    iterations: tuple[Iteration, ...]

    def to_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for it in self.iterations:
            counts[it.verdict.value] = counts.get(it.verdict.value, 0) + 1
        return {"passed": self.passed, "verdict": self.verdict, "reason": self.reason,
                "iterations": len(self.iterations), "counts": counts}


class StepAnalysis:
    """Runs the iterations of each step; the machine calls `run_step` once per applied step."""

    def __init__(self, analyzer: Analyzer, *, interval_s: float, iterations: int, failure_limit: int,
                 record: Record, say: Callable[[str], None] = lambda _l: None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time) -> None:
        self.analyzer = analyzer
        self.interval_s = interval_s
        self.iterations = iterations
        self.failure_limit = failure_limit
        self.record = record
        self.say = say
        self.sleep = sleep
        self.clock = clock

    def before_shift(self, candidate: str, baseline: str) -> None:
        """Measure the baseline on the traffic it served before the first shift (no waiting: it is in Prometheus)."""
        try:
            measured = self.analyzer.measure_baseline(baseline, at=self.clock(), window_s=self.interval_s)
        except PrometheusError as exc:
            measured = {"error": str(exc)}
        self.record("baseline", baseline=baseline, window_s=self.interval_s, **measured)

    def run_step(self, step: int, share: int, candidate: str, baseline: str) -> StepVerdict:
        done: list[Iteration] = []
        streak = 0
        self.say(f"step {step}: analysing live traffic: {self.iterations} x {self.interval_s:g} s, {candidate} "
                 f"({share}%) against {baseline}, stop after {self.failure_limit} consecutive non-pass")
        while True:
            number = len(done) + 1
            try:
                self.sleep(self.interval_s)
                it = self.analyzer.iteration(step=step, number=number, candidate=candidate, baseline=baseline,
                                             at=self.clock(), window_s=self.interval_s)
            except (KeyboardInterrupt, PromotionTimeout) as exc:
                why = "interrupted (Ctrl-C)" if isinstance(exc, KeyboardInterrupt) else f"timed out: {exc}"
                self.record("analysis", step=step, iteration=number, share=share, baseline=baseline,
                            verdict="interrupted", reason=f"{why} during analysis")
                raise
            done.append(it)
            self.record("analysis", share=share, baseline=baseline, **it.to_dict())
            self.say(f"  iteration {number}: {it.verdict.value}: {it.reason}")
            streak = 0 if it.verdict is Verdict.PASS else streak + 1
            if streak >= self.failure_limit:
                return StepVerdict(False, it.verdict.value,
                                   f"{streak} consecutive iteration{'s' if streak != 1 else ''} not passing "
                                   f"(failureLimit {self.failure_limit});"
                                   f" last: {it.verdict.value}: {it.reason}", tuple(done))
            if number >= self.iterations and it.verdict is Verdict.PASS:
                passes = sum(1 for i in done if i.verdict is Verdict.PASS)
                return StepVerdict(True, Verdict.PASS.value,
                                   f"{passes} of {number} iterations passed, the last {max(1, number - _last_bad(done))}"
                                   " in a row", tuple(done))


def _last_bad(done: list[Iteration]) -> int:
    """The 1-based number of the last iteration that did not pass (0 when all passed)."""
    for it in reversed(done):
        if it.verdict is not Verdict.PASS:
            return it.number
    return 0
