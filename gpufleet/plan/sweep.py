"""Find the knee: the highest open-loop rate one replica serves within its SLO.

A coarse ramp multiplies the rate until a point fails the gate (or goes down
when the first point already fails), then a bisection narrows the bracket
[highest pass, lowest fail] until it is within `resolution` of the pass. The
measurement is a callable, so the search is pure and tested with a fake; the
real one (`measure.GateMeasure`) runs the load test and the SLO gate.

Fail closed: a point whose measurement is `invalid` (a saturated client, too
few samples, a harness error) ends the sweep at once. In the ramp that means
no knee at all. In the bisection, where a valid pass and a valid fail already
bracket the knee, the outcome is `partial`: the knee reported is the highest
valid pass (a lower bound), never the invalid point, and the command still
exits as invalid so automation does not take it for a finished sweep.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

PASS, FAIL, INVALID = "pass", "fail", "invalid"
Outcome = Literal["knee", "ceiling", "max_points", "partial", "no_pass", "invalid"]
KNEE_OUTCOMES = ("knee", "ceiling", "max_points", "partial")


@dataclass(frozen=True)
class Point:
    """One measured rate: the gate's verdict and the figures the report plots."""

    rate: float  # offered open-loop rate, requests/s
    verdict: str  # pass | fail | invalid
    reason: str = ""
    phase: str = "ramp"  # ramp | bisect
    achieved_rate: float | None = None
    ttft_p95_ms: float | None = None
    tpot_p95_ms: float | None = None
    output_tokens_per_s: float | None = None
    requests_per_s: float | None = None
    goodput: float | None = None
    error_rate: float | None = None
    samples: int | None = None
    client_cpu: float | None = None
    invalid_kind: str | None = None  # client | samples | harness, for invalid points
    advice: str = ""  # what to change when the point is invalid
    duration_s: float | None = None
    wall_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


Measure = Callable[[float, str], Point]  # (rate, phase) -> Point


@dataclass(frozen=True)
class SweepSettings:
    start_rps: float
    max_rps: float
    min_rps: float
    factor: float = 2.0  # ramp multiplier
    resolution: float = 0.1  # stop when (fail - pass) <= resolution x pass
    max_points: int = 12

    def __post_init__(self) -> None:
        checks = [
            (self.min_rps > 0, f"the lowest rate must be > 0 req/s, got {self.min_rps:g}"),
            (self.min_rps <= self.start_rps <= self.max_rps,
             f"need lowest <= start <= highest rate, got {self.min_rps:g} <= {self.start_rps:g} <= {self.max_rps:g}"),
            (self.factor > 1, f"the ramp factor must be > 1, got {self.factor:g}"),
            (0.01 <= self.resolution <= 0.5,
             f"the resolution is a share between 0.01 and 0.5 (0.1 = 10%), got {self.resolution:g}"),
            (self.max_points >= 2, f"a sweep needs at least 2 points, got {self.max_points}"),
        ]
        for ok, message in checks:
            if not (ok and all(math.isfinite(v) for v in (self.start_rps, self.max_rps, self.min_rps))):
                raise ValueError(message)


@dataclass(frozen=True)
class SweepResult:
    outcome: Outcome
    points: tuple[Point, ...]
    knee: Point | None  # highest passing point; None unless outcome is knee/ceiling/max_points
    upper_rps: float | None  # lowest failing rate above the knee (None at the ceiling)
    message: str
    settings: SweepSettings | None = None

    @property
    def has_knee(self) -> bool:
        return self.knee is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "message": self.message,
            "knee_rps": self.knee.rate if self.knee else None,
            "knee_output_tokens_per_s": self.knee.output_tokens_per_s if self.knee else None,
            "upper_rps": self.upper_rps,
            "settings": None if self.settings is None else dict(vars(self.settings)),
            "points": [p.to_dict() for p in self.points],
        }


@dataclass
class _State:
    settings: SweepSettings
    measure: Measure
    points: list[Point] = field(default_factory=list)
    best: Point | None = None  # highest pass so far
    fail: float | None = None  # lowest fail so far

    def run(self, rate: float, phase: str) -> Point:
        point = self.measure(rate, phase)
        self.points.append(point)
        if point.verdict == PASS and (self.best is None or rate > self.best.rate):
            self.best = point
        elif point.verdict == FAIL and (self.fail is None or rate < self.fail):
            self.fail = rate
        return point

    @property
    def budget_left(self) -> bool:
        return len(self.points) < self.settings.max_points

    def result(self, outcome: Outcome, message: str) -> SweepResult:
        knee = self.best if outcome in KNEE_OUTCOMES else None
        return SweepResult(outcome, tuple(self.points), knee, self.fail if knee else None, message, self.settings)


def _invalid(state: _State, point: Point) -> SweepResult:
    advice = f" {point.advice}" if point.advice else ""
    return state.result("invalid", f"no knee: the point at {point.rate:g} req/s is invalid ({point.reason}).{advice}")


def _ramp(state: _State) -> SweepResult | None:
    """Up by `factor` while points pass, down while they fail; None when a bracket exists."""
    s = state.settings
    rate = s.start_rps
    while state.budget_left:
        point = state.run(rate, "ramp")
        if point.verdict == INVALID:
            return _invalid(state, point)
        if state.best is not None and state.fail is not None:
            return None
        if point.verdict == PASS:
            if rate >= s.max_rps:
                return state.result("ceiling", f"every rate up to the ceiling {s.max_rps:g} req/s passed; "
                                               f"the knee is at least that (raise --max-rps to find it)")
            rate = min(rate * s.factor, s.max_rps)
        else:
            if rate <= s.min_rps:
                return state.result("no_pass", f"no knee: the release misses its SLO even at {rate:g} req/s "
                                               f"({point.reason})")
            rate = max(rate / s.factor, s.min_rps)
    return _out_of_points(state)


def _out_of_points(state: _State) -> SweepResult:
    if state.best is None:
        return state.result("no_pass", f"no knee: no rate passed within {state.settings.max_points} points")
    upper = f" and {state.fail:g}" if state.fail is not None else ""
    return state.result("max_points", f"stopped after {state.settings.max_points} points; the knee lies between "
                                      f"{state.best.rate:g}{upper} req/s (reported: {state.best.rate:g})")


def _bisect(state: _State) -> SweepResult:
    s = state.settings
    while True:
        assert state.best is not None and state.fail is not None
        lo, hi = state.best.rate, state.fail
        if hi - lo <= s.resolution * lo + 1e-12:
            return state.result("knee", f"knee at {lo:g} req/s per replica (the next rate measured, {hi:g} req/s, "
                                        f"fails; resolution {s.resolution:.0%})")
        if not state.budget_left:
            return _out_of_points(state)
        mid = _round_rate((lo + hi) / 2)
        point = state.run(mid if lo < mid < hi else (lo + hi) / 2, "bisect")
        if point.verdict == INVALID:
            advice = f" {point.advice}" if point.advice else ""
            return state.result("partial", f"the point at {point.rate:g} req/s is invalid ({point.reason}), so the "
                                           f"bracket stops at [{lo:g}, {hi:g}) req/s: the knee is at least {lo:g} "
                                           f"req/s (the highest valid pass; a lower bound).{advice}")


def _round_rate(rate: float) -> float:
    """Three significant digits: rates stay readable and the bracket still halves."""
    return float(f"{rate:.3g}")


def find_knee(measure: Measure, settings: SweepSettings) -> SweepResult:
    """Ramp, then bisect; every point goes through `measure` exactly once."""
    state = _State(settings, measure)
    done = _ramp(state)
    return done if done is not None else _bisect(state)
