"""The PromQL of canary analysis: one query per check, over raw vLLM metric names.

Each query aggregates all pods of one release (chosen by the label matchers of
`gpufleet:promotion.releaseSelector`, e.g. `namespace="llm-green"`) into one
number over a window `w` (the analysis interval). Raw names, not recording
rules, so the analysis works on any Prometheus that scrapes vLLM:

| check | metric (vLLM V1) |
|---|---|
| requests, request rate | `http_requests_total{handler=~"/v1/chat/completions|/v1/completions"}` (vLLM's API server, prometheus-fastapi-instrumentator) |
| error ratio | its `status="5xx"` part plus `vllm:request_success_total{finished_reason="abort"}`, over all requests |
| TTFT p95 | `vllm:time_to_first_token_seconds` histogram |
| TPOT p95 | `vllm:request_time_per_output_token_seconds` (per request); where absent, `vllm:inter_token_latency_seconds` |
| e2e p95 | `vllm:e2e_request_latency_seconds` |
| queue per replica | `vllm:num_requests_waiting`: mean over the window, worst replica |
| KV-cache usage | `vllm:kv_cache_usage_perc`: peak over the window, worst replica |
"""

from __future__ import annotations

from dataclasses import dataclass

COMPLETION_HANDLERS = 'handler=~"/v1/chat/completions|/v1/completions"'


@dataclass(frozen=True)
class MetricQuery:
    """One measured quantity: its name in the audit log, how to read it and how it is bounded."""

    name: str
    label: str  # for people: "TTFT p95"
    unit: str  # "ms", "ratio", "requests", "req/s"
    template: str  # PromQL with {sel} (label matchers) and {w} (range, e.g. 60s)
    slack: float = 0.0  # the relative bound is never tighter than baseline + slack (noise at small values)

    def expr(self, selector: str, window_s: float) -> str:
        return self.template.replace("{sel}", selector).replace("{w}", f"{window_s:g}s")


def _quantile(metric: str) -> str:
    return "histogram_quantile(0.95, sum by (le) (rate(" + metric + "_bucket{{sel}}[{w}])))"


def _http(extra: str = "") -> str:
    return "http_requests_total{{sel}," + COMPLETION_HANDLERS + extra + "}[{w}]"


REQUESTS = MetricQuery("requests", "requests", "requests", "sum(increase(" + _http() + "))")
REQUEST_RATE = MetricQuery("request_rate", "request rate", "req/s", "sum(rate(" + _http() + "))")
ERROR_RATIO = MetricQuery(
    "error_ratio", "error ratio (5xx + aborted)", "ratio",
    "((sum(rate(" + _http(',status="5xx"') + ")) or vector(0))"
    ' + (sum(rate(vllm:request_success_total{{sel},finished_reason="abort"}[{w}])) or vector(0)))'
    " / sum(rate(" + _http() + "))",
    slack=0.005,
)
TTFT_P95 = MetricQuery("ttft_p95_ms", "TTFT p95", "ms", _quantile("vllm:time_to_first_token_seconds") + " * 1000",
                       slack=10.0)
TPOT_P95 = MetricQuery(
    "tpot_p95_ms", "TPOT p95", "ms",
    "(" + _quantile("vllm:request_time_per_output_token_seconds")
    + " or " + _quantile("vllm:inter_token_latency_seconds") + ") * 1000",
    slack=2.0,
)
E2E_P95 = MetricQuery("e2e_p95_ms", "e2e latency p95", "ms", _quantile("vllm:e2e_request_latency_seconds") + " * 1000",
                      slack=50.0)
QUEUE = MetricQuery("queue_per_replica", "queue per replica", "requests",
                    "max(avg_over_time(vllm:num_requests_waiting{{sel}}[{w}]))")
KV_CACHE = MetricQuery("kv_cache_usage", "KV-cache usage", "ratio",
                       "max(max_over_time(vllm:kv_cache_usage_perc{{sel}}[{w}]))")

# Judged every iteration, in this order (the traffic queries come first and decide validity).
CHECKED = (ERROR_RATIO, TTFT_P95, TPOT_P95, E2E_P95, QUEUE, KV_CACHE)
ALL = (REQUESTS, REQUEST_RATE, *CHECKED)
