"""The HPA decision the scaling simulation relies on: proposals, tolerance, stabilization, rate limits."""

from __future__ import annotations

from gpufleet.core.autoscaling import scale_behavior
from gpufleet.core.hpa_behavior import HpaBehavior, scaled_behavior

BEHAVIOR = scale_behavior(600)  # up: +100% or +2 per 600 s; down: hold 1200 s, then -1 per 600 s


def hpa() -> HpaBehavior:
    return HpaBehavior(min_replicas=2, max_replicas=12, behavior=BEHAVIOR, thresholds={"queue": 4, "kv_cache": 0.8})


def test_highest_proposal_wins_and_small_deviations_are_tolerated():
    h = hpa()
    assert h.proposal({"queue": 17, "kv_cache": 2.0}, current=3) == 5   # ceil(17/4) beats ceil(2.0/0.8)
    assert h.proposal({"queue": 12.5, "kv_cache": 0.1}, current=3) == 3  # 12.5/(4x3) within 10%: no change


def test_scale_up_is_rate_limited_per_period_counted_from_its_start():
    h = hpa()
    assert h.step(0, {"queue": 400, "kv_cache": 0}, current=2) == 4      # max(+100%, +2) of 2
    assert h.step(30, {"queue": 400, "kv_cache": 0}, current=4) == 4     # same period: still from 2
    assert h.step(601, {"queue": 400, "kv_cache": 0}, current=4) == 8    # next period: from 4
    assert h.step(1202, {"queue": 400, "kv_cache": 0}, current=8) == 12  # clamped at max


def test_scale_down_waits_for_the_window_then_removes_one_per_period():
    h = hpa()
    h.step(0, {"queue": 40, "kv_cache": 0}, current=10)
    assert h.step(600, {"queue": 0, "kv_cache": 0}, current=10) == 10   # a high recommendation is in the window
    assert h.step(1201, {"queue": 0, "kv_cache": 0}, current=10) == 9   # window passed: one replica
    assert h.step(1300, {"queue": 0, "kv_cache": 0}, current=9) == 9    # one per 600 s
    assert h.step(1802, {"queue": 0, "kv_cache": 0}, current=9) == 8


def test_compressed_time_keeps_the_shape():
    fast = scaled_behavior(BEHAVIOR, 60)
    assert fast["scaleDown"]["stabilizationWindowSeconds"] == 20
    assert fast["scaleUp"]["policies"][0]["periodSeconds"] == 10
