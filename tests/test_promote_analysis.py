"""Canary analysis of one iteration: verdicts, bounds and reasons, with Prometheus stubbed at its HTTP boundary."""

from __future__ import annotations

import math

import pytest

from gpufleet.core.promotion_config import PromotionConfig
from gpufleet.core.slo import SloSpec
from gpufleet.promote.analysis import Analyzer, Verdict
from gpufleet.promote.prometheus import PrometheusError
from promfake import HEALTHY, client, healthy, outage

SLO = SloSpec.model_validate({"targetRate": 4, "ttftP95Ms": 800, "tpotP95Ms": 60, "maxErrorRate": 0.01})
CONFIG = PromotionConfig.model_validate({"intervalS": 30, "minRequests": 20})


def analyse(values, *, config: PromotionConfig = CONFIG, analyzer: Analyzer | None = None, number: int = 1):
    prom, transport = client(values, config)
    analyzer = analyzer or Analyzer(prom, config, SLO)
    analyzer.client = prom
    it = analyzer.iteration(step=1, number=number, candidate="green", baseline="blue", at=1_700_000_000.0,
                            window_s=config.interval_s)
    return it, analyzer, transport


def candidate(**changes):
    def values(metric: str, release: str):
        if release == "green" and metric in changes:
            value = changes[metric]
            if isinstance(value, Exception):
                raise value
            return value
        return HEALTHY[metric]
    return values


def check(it, name):
    return next(c for c in it.checks if c.name == name)


def test_a_candidate_like_the_baseline_passes():
    it, _, transport = analyse(healthy)
    assert it.verdict is Verdict.PASS
    assert it.reason == "all 6 checks within bounds (120 requests)"
    ttft = check(it, "ttft_p95_ms")
    assert (ttft.value, ttft.baseline, ttft.absolute, ttft.relative, ttft.bound) == (60.0, 60.0, 800.0, 72.0, 72.0)
    assert ttft.baseline_from == "step 1 iteration 1"
    assert 'namespace="llm-green"' in ttft.query and "[30s]" in ttft.query
    # the same window for both releases, at the same instant
    assert {at for _, _, at in transport.calls} == {1_700_000_000.0}
    assert {release for _, release, _ in transport.calls} == {"green", "blue"}


def test_slower_than_the_relative_bound_fails_with_the_reason():
    it, _, _ = analyse(candidate(ttft_p95_ms=150.0))
    assert it.verdict is Verdict.FAIL
    assert it.reason == "ttft_p95_ms 150.0 ms > 72.0 ms (baseline 60.0 ms x 1.2)"


def test_above_the_slo_fails_naming_the_slo():
    it, _, _ = analyse(lambda m, r: {"ttft_p95_ms": 900.0 if r == "green" else 760.0}.get(m, HEALTHY[m]))
    assert it.verdict is Verdict.FAIL
    assert it.reason == "ttft_p95_ms 900.0 ms > 800.0 ms (gpufleet:slo.ttftP95Ms)"


def test_queue_and_kv_cache_have_absolute_bounds_only():
    # a candidate at 10% and a baseline at 90% carry different loads per replica: no relative bound
    it, _, _ = analyse(candidate(queue_per_replica=6.0, kv_cache_usage=0.9))
    assert it.verdict is Verdict.PASS
    assert (check(it, "queue_per_replica").relative, check(it, "queue_per_replica").bound) == (None, 8.0)
    it, _, _ = analyse(candidate(queue_per_replica=9.0, kv_cache_usage=0.97))
    assert it.reason == ("queue_per_replica 9.00 > 8.00 (gpufleet:promotion.maxQueuePerReplica); "
                         "kv_cache_usage 0.9700 > 0.9500 (gpufleet:promotion.maxKvCacheUsage)")


def test_small_values_get_a_slack_floor():
    # baseline TTFT 20 ms: 20 x 1.2 = 24 ms would flag jitter; the floor is baseline + 10 ms
    it, _, _ = analyse(lambda m, r: {"ttft_p95_ms": 29.0 if r == "green" else 20.0}.get(m, HEALTHY[m]))
    assert it.verdict is Verdict.PASS and check(it, "ttft_p95_ms").bound == 30.0
    it, _, _ = analyse(lambda m, r: {"ttft_p95_ms": 31.0 if r == "green" else 20.0}.get(m, HEALTHY[m]))
    assert it.reason == "ttft_p95_ms 31.0 ms > 30.0 ms (baseline 20.0 ms x 1.2, floor +10.0 ms)"


def test_an_error_burst_fails_on_the_error_ratio():
    it, _, _ = analyse(candidate(error_ratio=0.2))
    assert it.verdict is Verdict.FAIL
    assert it.reason == "error_ratio 0.2000 > 0.0050 (baseline 0.0000 x 2, floor +0.0050)"


def test_every_failed_check_is_named():
    it, _, _ = analyse(candidate(error_ratio=0.2, e2e_p95_ms=9000.0))
    assert it.verdict is Verdict.FAIL
    assert it.reason.startswith("error_ratio 0.2000 > ") and "; e2e_p95_ms 9000.0 ms > 3900.0 ms" in it.reason


def test_an_infinite_quantile_is_a_failure_not_missing_data():
    it, _, _ = analyse(candidate(ttft_p95_ms=math.inf))
    assert it.verdict is Verdict.FAIL and check(it, "ttft_p95_ms").value == math.inf


def test_no_traffic_to_the_candidate_is_invalid():
    for nothing in (0.0, None):
        it, _, _ = analyse(candidate(requests=nothing))
        assert it.verdict is Verdict.INVALID
        assert it.reason == ("no traffic reached green in the last 30 s: the new weight has not taken effect "
                             "(or the candidate's metrics are not scraped)")
        assert it.checks == ()


def test_too_few_requests_are_inconclusive():
    it, _, _ = analyse(candidate(requests=7.4))
    assert it.verdict is Verdict.INCONCLUSIVE and it.reason == "too few requests: 7 < minRequests 20"


def test_a_prometheus_error_is_inconclusive():
    it, _, _ = analyse(outage)
    assert it.verdict is Verdict.INCONCLUSIVE
    assert it.reason == "Prometheus: cannot reach Prometheus at fake: [Errno 111] Connection refused"


def test_an_error_in_one_query_makes_that_check_inconclusive():
    it, _, _ = analyse(candidate(kv_cache_usage=PrometheusError("query timed out")))
    assert it.verdict is Verdict.INCONCLUSIVE and it.reason == "Prometheus: query timed out"
    assert check(it, "ttft_p95_ms").verdict is Verdict.PASS


def test_missing_data_is_inconclusive_but_a_failure_still_wins():
    it, _, _ = analyse(candidate(tpot_p95_ms=None))
    assert it.verdict is Verdict.INCONCLUSIVE and it.reason == "tpot_p95_ms: no data"
    it, _, _ = analyse(candidate(tpot_p95_ms=None, ttft_p95_ms=500.0))
    assert it.verdict is Verdict.FAIL and it.reason.startswith("ttft_p95_ms 500.0 ms > 72.0 ms")


def test_without_any_baseline_value_the_check_is_inconclusive():
    it, _, _ = analyse(lambda m, r: 0.0 if (r, m) == ("blue", "requests") else HEALTHY[m])
    assert it.verdict is Verdict.INCONCLUSIVE
    assert it.reason == ("error_ratio, ttft_p95_ms, tpot_p95_ms, e2e_p95_ms: no "
                         "baseline value to compare with (the baseline served fewer than minRequests 20 before and "
                         "during the promotion)")


def test_the_baseline_measured_before_the_first_shift_is_the_reference_for_a_step_to_100_percent():
    prom, _ = client(healthy, CONFIG)
    analyzer = Analyzer(prom, CONFIG, SLO)
    measured = analyzer.measure_baseline("blue", at=1_700_000_000.0, window_s=30.0)
    assert measured["requests"] == 120.0 and measured["values"]["ttft_p95_ms"] == 60.0
    # the 100% step: blue serves nothing any more
    values = lambda m, r: (0.0 if m == "requests" else None) if r == "blue" else {"ttft_p95_ms": 70.0}.get(m, HEALTHY[m])
    it, _, _ = analyse(values, analyzer=analyzer)
    assert it.verdict is Verdict.PASS
    ttft = check(it, "ttft_p95_ms")
    assert (ttft.baseline, ttft.baseline_from, ttft.bound) == (60.0, "before the first shift", 72.0)


def test_a_baseline_without_enough_traffic_before_the_shift_is_not_a_reference():
    prom, _ = client(lambda m, r: 3.0 if m == "requests" else HEALTHY[m], CONFIG)
    analyzer = Analyzer(prom, CONFIG, SLO)
    assert analyzer.measure_baseline("blue", at=1_700_000_000.0, window_s=30.0) == {
        "requests": 3.0, "values": {}, "note": "fewer than minRequests 20: not used as a baseline"}
    assert analyzer.remembered == {}


def test_a_baseline_without_traffic_is_compared_as_it_was_last_measured():
    _, analyzer, _ = analyse(healthy)  # step 1: the baseline had traffic
    # the 100% step: blue gets nothing; green must still be within 1.2 x blue's last TTFT p95
    values = lambda m, r: (0.0 if m == "requests" else None) if r == "blue" else {"ttft_p95_ms": 80.0}.get(m, HEALTHY[m])
    it, _, transport = analyse(values, analyzer=analyzer, number=2)
    assert it.verdict is Verdict.FAIL
    ttft = check(it, "ttft_p95_ms")
    assert (ttft.baseline, ttft.baseline_from, ttft.bound) == (60.0, "step 1 iteration 1", 72.0)
    assert ("ttft_p95_ms", "blue") not in {(m, r) for m, r, _ in transport.calls}  # not asked: too few requests


@pytest.mark.parametrize("name, absolute", [("error_ratio", 0.01), ("ttft_p95_ms", 800.0), ("tpot_p95_ms", 60.0),
                                            ("e2e_p95_ms", None), ("queue_per_replica", 8.0),
                                            ("kv_cache_usage", 0.95)])
def test_absolute_bounds_come_from_the_slo_and_the_promotion_config(name, absolute):
    it, _, _ = analyse(healthy)
    assert check(it, name).absolute == absolute


def test_every_check_records_query_value_and_bound():
    it, _, _ = analyse(healthy)
    entry = it.to_dict()
    assert entry["verdict"] == "pass" and entry["requests"] == 120.0 and entry["window_s"] == 30.0
    for c in entry["checks"]:
        assert set(c) == {"name", "unit", "value", "bound", "absolute", "relative", "baseline", "baseline_from",
                          "verdict", "reason", "query"}
        assert c["query"].count('namespace="llm-green"') >= 1 and c["bound"] is not None
