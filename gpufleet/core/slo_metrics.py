"""The metric names and histogram buckets the rules and dashboards are written against.

One place, checked against the upstream sources (see docs/observability.md, "Metric names"):
  * vLLM V1 `PrometheusStatLogger` (vllm/v1/metrics/loggers.py) as shipped in the
    pinned vllm-openai v0.27 images: `vllm:` prefix, labels model_name and engine;
  * vLLM's API server counts HTTP requests with prometheus-fastapi-instrumentator
    (`http_requests_total{handler,method,status="2xx|4xx|5xx"}`);
  * NVIDIA dcgm-exporter default counters (DCGM_FI_DEV_*), kube-state-metrics,
    Envoy (Envoy Gateway data plane, `/stats/prometheus`), node-exporter.
The simulator (`gpufleet.simserver`) exports the vLLM names with these buckets.
"""

from __future__ import annotations

# vLLM histogram buckets (seconds), verbatim from PrometheusStatLogger.
TTFT_BUCKETS = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
    2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)
# inter_token_latency_seconds and request_time_per_output_token_seconds share these.
ITL_BUCKETS = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
    5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
)
REQUEST_LATENCY_BUCKETS = (
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0,
    60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0,
)

VLLM_TTFT = "vllm:time_to_first_token_seconds"
VLLM_ITL = "vllm:inter_token_latency_seconds"  # was vllm:time_per_output_token_seconds before 0.11
VLLM_TPOT = "vllm:request_time_per_output_token_seconds"  # per-request mean, what the gate's TPOT measures
VLLM_E2E = "vllm:e2e_request_latency_seconds"
VLLM_QUEUE_TIME = "vllm:request_queue_time_seconds"
VLLM_RUNNING = "vllm:num_requests_running"
VLLM_WAITING = "vllm:num_requests_waiting"
VLLM_KV_CACHE = "vllm:kv_cache_usage_perc"  # was vllm:gpu_cache_usage_perc in v0
GENERATION_TOKENS = "vllm:generation_tokens_total"
PROMPT_TOKENS = "vllm:prompt_tokens_total"
PREFIX_CACHE_HITS = "vllm:prefix_cache_hits_total"
PREFIX_CACHE_QUERIES = "vllm:prefix_cache_queries_total"
PREEMPTIONS = "vllm:num_preemptions_total"
REQUEST_SUCCESS = "vllm:request_success_total"
HTTP_REQUESTS = "http_requests_total"
# The OpenAI routes whose answers count in the error SLI (not /v1/models, /health, /metrics).
COMPLETION_HANDLERS = "/v1/chat/completions|/v1/completions"

XID_ERRORS = "DCGM_FI_DEV_XID_ERRORS"
KSM_AVAILABLE = "kube_deployment_status_replicas_available"

# Every series name a dashboard or rule may read, by who serves it.
VLLM_SERIES = {
    *(f"{h}_{s}" for h in (VLLM_TTFT, VLLM_ITL, VLLM_TPOT, VLLM_E2E, VLLM_QUEUE_TIME,
                           "vllm:request_prompt_tokens", "vllm:request_generation_tokens")
      for s in ("bucket", "count", "sum")),
    VLLM_RUNNING, VLLM_WAITING, VLLM_KV_CACHE, GENERATION_TOKENS, PROMPT_TOKENS, PREFIX_CACHE_HITS,
    PREFIX_CACHE_QUERIES, PREEMPTIONS, REQUEST_SUCCESS, HTTP_REQUESTS,
}
DCGM_SERIES = {"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_POWER_USAGE",
               "DCGM_FI_DEV_GPU_TEMP", XID_ERRORS}
KSM_SERIES = {KSM_AVAILABLE, "kube_deployment_spec_replicas", "kube_node_info", "kube_node_labels",
              "kube_pod_status_ready"}
ENVOY_SERIES = {"envoy_cluster_upstream_rq_total", "envoy_cluster_upstream_rq_xx",
                "envoy_cluster_upstream_rq_time_bucket"}
PROMETHEUS_SERIES = {"up"}
DOCUMENTED_SERIES = VLLM_SERIES | DCGM_SERIES | KSM_SERIES | ENVOY_SERIES | PROMETHEUS_SERIES
