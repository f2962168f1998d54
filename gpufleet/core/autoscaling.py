"""How one release scales on LLM signals: its config, its checks, and its KEDA ScaledObject.

CPU is the wrong signal for a GPU-bound server, and nothing serves a custom-metrics API
for an HPA; KEDA reads Prometheus directly. Each release gets one ScaledObject whose
triggers are Prometheus queries on that release's vLLM metrics (vLLM production-stack
scales on the waiting queue, AIBrix on KV-cache usage, llm-d on a latency saturation
signal). The HPA that KEDA manages takes the highest proposal of all triggers.

Every trigger uses `metricType: AverageValue`, so the HPA's desired replicas for a trigger
is `ceil(query value / threshold)` (KEDA docs, "Scaling Deployments": the External metric
with an AverageValue target; Kubernetes HPA algorithm). The queries are therefore written
as totals across the release's pods, and the thresholds are per-replica targets. Only
AverageValue triggers support `fallback` (KEDA docs, "Fallback"), which keeps replicas
up when Prometheus is unreachable: fail closed, never scale to zero on missing data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from gpufleet.core.errors import ConfigError

# KEDA's API, as vendored in k8s/crds/keda (v2.20.2).
KEDA_API_VERSION = "keda.sh/v1alpha1"
# The in-cluster Prometheus that KEDA queries: kube-prometheus-stack released as "kps" in "monitoring".
PROMETHEUS_URL = "http://kps-prometheus.monitoring.svc:9090"
# The HPA caps a stabilization window at one hour.
MAX_STABILIZATION_S = 3600
# Failed Prometheus queries in a row before KEDA holds the fallback replica count.
FALLBACK_FAILURE_THRESHOLD = 3


class ReleaseAutoscaling(BaseModel):
    """`gpufleet:releases.<name>.autoscaling`: targets per replica, all optional with defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)

    min_replicas: int | None = Field(default=None, ge=0, le=1000)
    max_replicas: int | None = Field(default=None, ge=1, le=1000)
    # Requests waiting for a batch slot, per replica (vLLM production-stack's signal).
    queue_per_replica: float = Field(default=4, gt=0, le=1000)
    # Mean KV-cache usage per replica (0..1] (AIBrix's signal); past ~0.9 vLLM preempts.
    kv_cache_usage: float = Field(default=0.8, gt=0, le=1)
    # Scale when p95 TTFT passes this share of gpufleet:slo.ttftP95Ms (the gate's objective); null turns it off.
    ttft_saturation: float | None = Field(default=0.8, gt=0, le=2)
    polling_interval_s: int = Field(default=15, ge=5, le=300)
    # Scale to zero when idle: only outside prod, and only when the release opts in.
    scale_to_zero: bool = False
    # Replicas KEDA holds while Prometheus is unreachable (default: the release's replicas).
    fallback_replicas: int | None = Field(default=None, ge=1, le=1000)


@dataclass(frozen=True)
class ScalingPlan:
    """Everything the ScaledObject needs, derived once from config, catalog and SLO."""

    release: str
    namespace: str
    deployment: str
    min_replicas: int
    max_replicas: int
    fallback_replicas: int
    polling_interval_s: int
    queue_per_replica: float
    kv_cache_usage: float
    ttft_saturation: float | None
    ttft_objective_s: float
    cold_start_s: int
    scale_to_zero: bool
    selector: str  # PromQL label matchers of this release's pods
    rate_window: str = "2m"  # PromQL range of the TTFT rate (shorter in compressed-time simulations)


def check_autoscaling(key: str, auto: ReleaseAutoscaling, *, replicas: int, min_replicas: int, max_replicas: int,
                      environment: str) -> None:
    """One-line errors for bounds that pydantic cannot see alone (key is 'gpufleet:releases.<name>')."""
    akey = f"{key}.autoscaling"
    if min_replicas > max_replicas:
        raise ConfigError(f"{akey}.minReplicas", f"{min_replicas} is above maxReplicas {max_replicas}")
    if min_replicas == 0:
        if environment == "prod":
            raise ConfigError(f"{akey}.minReplicas", "0 (scale to zero) is not allowed in a prod stack "
                                                     "(allowed: >= 1; scale to zero only where environment is not prod)")
        if not auto.scale_to_zero:
            raise ConfigError(f"{akey}.minReplicas", "0 needs autoscaling.scaleToZero: true (an explicit opt-in)")
    elif auto.scale_to_zero:
        if environment == "prod":
            raise ConfigError(f"{akey}.scaleToZero", "is not allowed in a prod stack (allowed: false)")
        raise ConfigError(f"{akey}.scaleToZero", f"needs autoscaling.minReplicas: 0 (got {min_replicas})")
    fallback = auto.fallback_replicas
    if fallback is not None and not max(min_replicas, 1) <= fallback <= max_replicas:
        raise ConfigError(f"{akey}.fallbackReplicas",
                          f"{fallback} is outside {max(min_replicas, 1)}..{max_replicas} (minReplicas..maxReplicas, at least 1)")


def cold_start_seconds(weights_gb: float, *, downloads_in_process: bool) -> int:
    """Estimated seconds from a new pod to a ready replica: node, image, weights, load.

    A GPU node takes ~4 minutes to join and pull the vLLM image; weights copy from the
    bucket at ~200 MB/s (5 s/GB) or download in process at ~50 MB/s (20 s/GB); loading,
    compile and CUDA graphs run at ~70 MB/s (15 s/GB). The same rates size the startup
    probe (`manifests.startup_budget_seconds`), which is an upper bound, not this estimate.
    """
    fetch_per_gb = 20 if downloads_in_process else 5
    return 240 + math.ceil(weights_gb * (fetch_per_gb + 15))


def scale_behavior(cold_start_s: int) -> dict[str, Any]:
    """HPA behavior sized to the cold start rather than to a constant.

    Up: no stabilization (react to a real queue at once) but at most double the replicas
    per cold start, because pods still loading weights leave the queue high and a second
    round of additions would overshoot. Down: hold for twice the cold start (a removed
    replica takes that long to come back), then remove one replica per cold start.
    """
    window = min(MAX_STABILIZATION_S, max(300, 2 * cold_start_s))
    period = min(1800, cold_start_s)  # HPA policies allow periodSeconds up to 1800
    return {
        "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                    "policies": [{"type": "Percent", "value": 100, "periodSeconds": period},
                                 {"type": "Pods", "value": 2, "periodSeconds": period}]},
        "scaleDown": {"stabilizationWindowSeconds": window, "selectPolicy": "Min",
                      "policies": [{"type": "Pods", "value": 1, "periodSeconds": period}]},
    }


def queries(plan: ScalingPlan) -> dict[str, str]:
    """PromQL per trigger; each is a total across the release's pods (see the module docstring)."""
    sel = plan.selector
    found = {
        # No `or vector(0)`: a release whose metrics are missing must error into the
        # fallback replica count, not read as an idle release and scale down.
        "queue": f"sum(vllm:num_requests_waiting{{{sel}}})",
        "kv_cache": f"sum(vllm:kv_cache_usage_perc{{{sel}}})",
    }
    if plan.ttft_saturation is not None:
        # replicas x (p95 TTFT / objective): with threshold s, desired = ceil(replicas x p95 / (s x objective)).
        # Without traffic the quantile is NaN; `> 0` drops it and the trigger proposes nothing.
        found["ttft"] = (
            f"((histogram_quantile(0.95, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket{{{sel}}}[{plan.rate_window}])))"
            f" / {plan.ttft_objective_s:g}) * scalar(count(vllm:num_requests_running{{{sel}}}))) > 0 or vector(0)"
        )
    if plan.scale_to_zero:
        # At zero replicas vLLM serves no metrics: requests reaching the gateway for this release wake it.
        found["activation"] = (
            f'sum(rate(envoy_cluster_upstream_rq_total{{envoy_cluster_name=~".*{plan.namespace}.*"}}[2m]))'
            f' + sum(rate(envoy_cluster_upstream_cx_none_healthy{{envoy_cluster_name=~".*{plan.namespace}.*"}}[2m]))'
            " or vector(0)"
        )
    return found


def thresholds(plan: ScalingPlan) -> dict[str, float]:
    found = {"queue": plan.queue_per_replica, "kv_cache": plan.kv_cache_usage}
    if plan.ttft_saturation is not None:
        found["ttft"] = plan.ttft_saturation
    return found


def scaled_object(plan: ScalingPlan, labels: dict[str, str]) -> dict[str, Any]:
    """The KEDA ScaledObject of one release (replaces the HPA; KEDA owns the HPA it creates)."""
    q, t = queries(plan), thresholds(plan)
    triggers = [_prometheus_trigger(name, q[name], t[name]) for name in t]
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": plan.deployment},
        "pollingInterval": plan.polling_interval_s,
        "minReplicaCount": plan.min_replicas,
        "maxReplicaCount": plan.max_replicas,
        "fallback": {"failureThreshold": FALLBACK_FAILURE_THRESHOLD, "replicas": plan.fallback_replicas},
        "advanced": {"horizontalPodAutoscalerConfig": {"behavior": scale_behavior(plan.cold_start_s)}},
        "triggers": triggers,
    }
    if plan.scale_to_zero:
        spec["cooldownPeriod"] = min(MAX_STABILIZATION_S, max(300, 2 * plan.cold_start_s))
        activation = _prometheus_trigger("activation", q["activation"], 1000.0)
        activation["metadata"]["activationThreshold"] = "0"
        spec["triggers"] = triggers + [activation]
    return {"apiVersion": KEDA_API_VERSION, "kind": "ScaledObject",
            "metadata": {"name": plan.deployment, "namespace": plan.namespace, "labels": labels},
            "spec": spec}


def _prometheus_trigger(name: str, query: str, threshold: float) -> dict[str, Any]:
    return {"type": "prometheus", "name": name, "metricType": "AverageValue",
            "metadata": {"serverAddress": PROMETHEUS_URL, "query": query, "threshold": f"{threshold:g}",
                         # an empty result is an error (fallback), never a silent zero
                         "ignoreNullValues": "false"}}


def keda_desired_replicas(values: dict[str, float], plan: ScalingPlan, current: int) -> int:
    """What the KEDA-managed HPA proposes for these query values, before behavior limits.

    Per trigger `ceil(value / threshold)` (AverageValue), the highest proposal wins, clamped
    to min..max; at zero replicas only the activation trigger (value > 0) wakes the release.
    """
    t = thresholds(plan)
    if current == 0 and plan.scale_to_zero:
        return max(1, plan.min_replicas) if values.get("activation", 0) > 0 else 0
    proposals = [math.ceil(values[name] / t[name] - 1e-9) for name in t if name in values]
    desired = max(proposals, default=current)
    return max(plan.min_replicas if not plan.scale_to_zero else 1, min(plan.max_replicas, desired))
