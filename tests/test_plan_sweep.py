"""The knee search: ramp + bisection over a fake measurement whose knee is known exactly."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpufleet.plan.sweep import FAIL, INVALID, PASS, Point, SweepSettings, find_knee


class Fake:
    """Passes at or below `knee`, fails above; optionally invalid from `invalid_from` up."""

    def __init__(self, knee: float, invalid_from: float | None = None, tokens_per_request: float = 100.0,
                 invalid_band: tuple[float, float] | None = None):
        self.knee, self.invalid_from, self.tpr, self.band = knee, invalid_from, tokens_per_request, invalid_band
        self.rates: list[float] = []

    def invalid(self, rate: float) -> bool:
        if self.band is not None and self.band[0] <= rate <= self.band[1]:
            return True
        return self.invalid_from is not None and rate >= self.invalid_from

    def __call__(self, rate: float, phase: str) -> Point:
        self.rates.append(rate)
        if self.invalid(rate):
            return Point(rate, INVALID, "measurement not valid: client_cpu", phase, invalid_kind="client",
                         advice="Add Locust workers: --processes 2 (or more).")
        verdict = PASS if rate <= self.knee else FAIL
        return Point(rate, verdict, verdict, phase, output_tokens_per_s=rate * self.tpr)


def test_finds_known_knee_within_one_step():
    fake = Fake(knee=37.0)
    result = find_knee(fake, SweepSettings(start_rps=4, max_rps=256, min_rps=0.25, resolution=0.05))
    assert result.outcome == "knee"
    lo, hi = result.knee.rate, result.upper_rps
    assert lo <= 37.0 < hi
    assert hi - lo <= 0.05 * lo
    assert result.knee.output_tokens_per_s == pytest.approx(lo * 100)
    assert [p.phase for p in result.points[:5]] == ["ramp"] * 5  # 4, 8, 16, 32, 64
    assert result.points[4].verdict == FAIL and all(p.phase == "bisect" for p in result.points[5:])
    assert len(fake.rates) == len(set(fake.rates)) == len(result.points)  # each rate measured once


@settings(max_examples=200, deadline=None)
@given(knee=st.floats(0.5, 500), start=st.floats(0.5, 100), resolution=st.sampled_from([0.01, 0.05, 0.1, 0.25]))
def test_bisection_brackets_any_knee(knee, start, resolution):
    result = find_knee(Fake(knee), SweepSettings(start_rps=start, max_rps=start * 4096, min_rps=start / 4096,
                                                 resolution=resolution, max_points=60))
    assert result.outcome == "knee"
    assert result.knee.rate <= knee < result.upper_rps
    assert result.upper_rps - result.knee.rate <= resolution * result.knee.rate + 1e-9


def test_first_point_fails_ramps_down():
    result = find_knee(Fake(knee=3.0), SweepSettings(start_rps=20, max_rps=100, min_rps=1, resolution=0.1))
    assert [p.rate for p in result.points[:4]] == [20, 10, 5, 2.5]
    assert result.outcome == "knee" and 2.5 <= result.knee.rate <= 3.0


def test_no_rate_passes_means_no_knee():
    result = find_knee(Fake(knee=0.1), SweepSettings(start_rps=4, max_rps=64, min_rps=1))
    assert result.outcome == "no_pass" and result.knee is None
    assert result.message.startswith("no knee: the release misses its SLO even at 1 req/s")


def test_ceiling_reports_a_lower_bound():
    result = find_knee(Fake(knee=1000), SweepSettings(start_rps=10, max_rps=50, min_rps=1))
    assert result.outcome == "ceiling" and result.knee.rate == 50 and result.upper_rps is None
    assert [p.rate for p in result.points] == [10, 20, 40, 50]


def test_point_budget_keeps_the_best_pass():
    result = find_knee(Fake(knee=37), SweepSettings(start_rps=4, max_rps=256, min_rps=1, max_points=6))
    assert result.outcome == "max_points" and len(result.points) == 6
    assert result.knee.rate <= 37 < result.upper_rps


@pytest.mark.parametrize("invalid_from", [4.0, 32.0, 48.0])
def test_invalid_point_never_yields_a_knee(invalid_from):
    """A saturated client anywhere in the sweep: no knee, even after passing points, and the advice."""
    result = find_knee(Fake(knee=40, invalid_from=invalid_from), SweepSettings(start_rps=4, max_rps=256, min_rps=1))
    assert result.outcome == "invalid" and result.knee is None and not result.has_knee
    assert result.points[-1].verdict == INVALID
    assert "--processes 2" in result.message
    assert result.to_dict()["knee_rps"] is None


def test_invalid_point_inside_the_bracket_gives_a_lower_bound_only():
    """Measured here: 36 pass, 42 fail, then 39 invalid (a busy machine): the knee is at least 36, no more."""
    result = find_knee(Fake(knee=40, invalid_band=(38, 40)), SweepSettings(start_rps=6, max_rps=400, min_rps=1))
    assert [p.rate for p in result.points] == [6, 12, 24, 48, 36, 42, 39]
    assert result.outcome == "partial" and result.knee.rate == 36 and result.knee.verdict == PASS
    assert result.upper_rps == 42
    assert result.message.startswith("the point at 39 req/s is invalid (measurement not valid: client_cpu), so the "
                                     "bracket stops at [36, 42) req/s: the knee is at least 36 req/s")
    assert "--processes 2" in result.message


@settings(max_examples=100, deadline=None)
@given(knee=st.floats(1, 300), invalid_from=st.floats(1, 600), band=st.one_of(st.none(), st.tuples(
    st.floats(1, 300), st.floats(0, 30)).map(lambda t: (t[0], t[0] + t[1]))))
def test_invalid_anywhere_is_never_the_knee(knee, invalid_from, band):
    fake = Fake(knee, invalid_from=invalid_from, invalid_band=band)
    result = find_knee(fake, SweepSettings(start_rps=2, max_rps=1024, min_rps=0.5, max_points=40))
    if result.knee is not None:
        assert result.knee.verdict == PASS and not fake.invalid(result.knee.rate)
    if any(fake.invalid(r) for r in fake.rates):
        assert result.outcome in ("invalid", "partial")
        assert result.outcome == "invalid" or result.points[-1].phase == "bisect"


@pytest.mark.parametrize("kwargs, message", [
    (dict(start_rps=5, max_rps=4, min_rps=1), "need lowest <= start <= highest rate, got 1 <= 5 <= 4"),
    (dict(start_rps=5, max_rps=10, min_rps=0), "the lowest rate must be > 0 req/s, got 0"),
    (dict(start_rps=5, max_rps=10, min_rps=1, resolution=0.9),
     "the resolution is a share between 0.01 and 0.5 (0.1 = 10%), got 0.9"),
    (dict(start_rps=5, max_rps=10, min_rps=1, max_points=1), "a sweep needs at least 2 points, got 1"),
])
def test_settings_are_checked(kwargs, message):
    with pytest.raises(ValueError) as exc:
        SweepSettings(**kwargs)
    assert str(exc.value) == message
