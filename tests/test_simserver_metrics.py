"""Prometheus exposition with vLLM's metric names."""

from __future__ import annotations

import pytest

from gpufleet.simserver.metrics import (
    Counter,
    Histogram,
    VllmMetrics,
    build_1_2_5_buckets,
)


def metrics() -> VllmMetrics:
    return VllmMetrics("m/x", max_model_len=100, running=lambda: 3, waiting=lambda: 2, kv_cache_usage=lambda: 0.25)


def test_1_2_5_buckets() -> None:
    assert build_1_2_5_buckets(100) == (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
    assert build_1_2_5_buckets(8192)[-1] == 5000.0


def test_histogram_buckets_are_cumulative_and_inclusive() -> None:
    h = Histogram((0.1, 0.5, 1.0))
    for v in (0.05, 0.1, 0.3, 2.0):
        h.observe(v)
    h.observe(0.7, count=2)
    assert h.cumulative() == [(0.1, 2), (0.5, 3), (1.0, 5), (float("inf"), 6)]
    assert (h.count, h.sum) == (6, pytest.approx(0.05 + 0.1 + 0.3 + 2.0 + 1.4))


def test_histogram_rejects_unsorted_buckets() -> None:
    with pytest.raises(ValueError) as err:
        Histogram((1.0, 0.5))
    assert str(err.value) == "histogram buckets must be strictly increasing"


def test_counter_only_goes_up() -> None:
    c = Counter()
    c.inc(2)
    assert c.value == 2.0
    with pytest.raises(ValueError) as err:
        c.inc(-1)
    assert str(err.value) == "counters only go up, got -1"


def test_render_gauges_and_counters_like_prometheus_client() -> None:
    m = metrics()
    m.prompt_tokens.inc(12)
    m.request_success["length"].inc()
    text = m.render()
    assert 'vllm:num_requests_running{engine="0",model_name="m/x"} 3.0\n' in text
    assert 'vllm:num_requests_waiting{engine="0",model_name="m/x"} 2.0\n' in text
    assert 'vllm:kv_cache_usage_perc{engine="0",model_name="m/x"} 0.25\n' in text
    assert "# TYPE vllm:prompt_tokens counter\n" in text
    assert 'vllm:prompt_tokens_total{engine="0",model_name="m/x"} 12.0\n' in text
    assert 'vllm:generation_tokens_total{engine="0",model_name="m/x"} 0.0\n' in text
    assert 'vllm:request_success_total{engine="0",finished_reason="length",model_name="m/x"} 1.0\n' in text


def test_render_histograms_with_vllm_buckets() -> None:
    m = metrics()
    m.ttft.observe(0.05)
    m.itl.observe(0.02)
    m.e2e.observe(3.0)
    text = m.render()
    assert 'vllm:time_to_first_token_seconds_bucket{engine="0",le="0.04",model_name="m/x"} 0.0\n' in text
    assert 'vllm:time_to_first_token_seconds_bucket{engine="0",le="0.06",model_name="m/x"} 1.0\n' in text
    assert 'vllm:time_to_first_token_seconds_bucket{engine="0",le="2560.0",model_name="m/x"} 1.0\n' in text
    assert 'vllm:inter_token_latency_seconds_bucket{engine="0",le="0.025",model_name="m/x"} 1.0\n' in text
    assert 'vllm:e2e_request_latency_seconds_bucket{engine="0",le="+Inf",model_name="m/x"} 1.0\n' in text
    assert 'vllm:e2e_request_latency_seconds_count{engine="0",model_name="m/x"} 1.0\n' in text
    assert 'vllm:request_prompt_tokens_bucket{engine="0",le="100.0",model_name="m/x"} 0.0\n' in text
    for name in ("request_queue_time_seconds", "request_generation_tokens"):
        assert f"# TYPE vllm:{name} histogram\n" in text


def test_label_values_are_escaped() -> None:
    m = VllmMetrics('a"b\\c', max_model_len=10, running=lambda: 0, waiting=lambda: 0, kv_cache_usage=lambda: 0)
    assert 'model_name="a\\"b\\\\c"' in m.render()


def test_current_vllm_names_for_tpot_prefix_cache_preemptions_and_finish_reasons() -> None:
    m = metrics()
    m.tpot.observe(0.03)
    m.prefix_cache_queries.inc(7)
    text = m.render()
    assert 'vllm:request_time_per_output_token_seconds_bucket{engine="0",le="0.05",model_name="m/x"} 1.0\n' in text
    assert 'vllm:prefix_cache_queries_total{engine="0",model_name="m/x"} 7.0\n' in text
    assert 'vllm:prefix_cache_hits_total{engine="0",model_name="m/x"} 0.0\n' in text
    assert 'vllm:num_preemptions_total{engine="0",model_name="m/x"} 0.0\n' in text
    for reason in ("stop", "length", "abort", "error", "repetition"):
        assert f'vllm:request_success_total{{engine="0",finished_reason="{reason}",model_name="m/x"}} 0.0\n' in text


def test_http_requests_are_counted_like_the_fastapi_instrumentator() -> None:
    m = metrics()
    for status in (200, 200, 500, 503, 400):
        m.http.observe("/v1/chat/completions", "POST", status)
    m.http.observe("/metrics", "GET", 200)  # excluded, as vLLM excludes it
    m.http.observe("/sim/faults", "PUT", 200)  # simulator-only route
    text = m.render()
    assert "# TYPE http_requests_total counter\n" in text
    assert 'http_requests_total{handler="/v1/chat/completions",method="POST",status="2xx"} 2.0\n' in text
    assert 'http_requests_total{handler="/v1/chat/completions",method="POST",status="5xx"} 2.0\n' in text
    assert 'http_requests_total{handler="/v1/chat/completions",method="POST",status="4xx"} 1.0\n' in text
    assert "/metrics" not in text.split("# TYPE http_requests_total counter\n")[1]
    assert "/sim/" not in text
