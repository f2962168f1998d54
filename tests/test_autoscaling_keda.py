"""KEDA's arithmetic as the ScaledObject's HPA applies it, and the ScaledObject's own shape."""

from __future__ import annotations

from dataclasses import replace

from gpufleet.core.autoscaling import ScalingPlan, cold_start_seconds, keda_desired_replicas, scale_behavior, scaled_object
from gpufleet.core.crds import crd_errors

PLAN = ScalingPlan(release="blue", namespace="llm-blue", deployment="vllm-blue", min_replicas=2, max_replicas=12,
                   fallback_replicas=4, polling_interval_s=15, queue_per_replica=4, kv_cache_usage=0.8,
                   ttft_saturation=0.8, ttft_objective_s=0.8, cold_start_s=600, scale_to_zero=False,
                   selector='namespace="llm-blue"')


def test_each_trigger_proposes_ceil_value_over_threshold_and_the_highest_wins():
    # queue 17 waiting / 4 per replica -> 5; KV 2.0 / 0.8 -> 3; TTFT 3.9 / 0.8 -> 5 (ceil 4.875)
    assert keda_desired_replicas({"queue": 17, "kv_cache": 2.0, "ttft": 3.9}, PLAN, current=3) == 5
    assert keda_desired_replicas({"queue": 0, "kv_cache": 4.1, "ttft": 0}, PLAN, current=3) == 6


def test_proposals_are_clamped_to_min_and_max():
    assert keda_desired_replicas({"queue": 0, "kv_cache": 0, "ttft": 0}, PLAN, current=5) == 2
    assert keda_desired_replicas({"queue": 400, "kv_cache": 0, "ttft": 0}, PLAN, current=5) == 12


def test_scale_to_zero_wakes_only_on_gateway_requests():
    plan = replace(PLAN, min_replicas=0, scale_to_zero=True)
    assert keda_desired_replicas({"activation": 0.0}, plan, current=0) == 0
    assert keda_desired_replicas({"activation": 0.2}, plan, current=0) == 1
    obj = scaled_object(plan, {})
    assert crd_errors(obj) == []
    activation = obj["spec"]["triggers"][-1]
    assert (activation["name"], activation["metadata"]["activationThreshold"]) == ("activation", "0")
    assert obj["spec"]["cooldownPeriod"] == 1200


def test_behavior_follows_the_cold_start_not_a_constant():
    small, large = scale_behavior(cold_start_seconds(6.17, downloads_in_process=False)), scale_behavior(
        cold_start_seconds(145.4, downloads_in_process=False))
    assert small["scaleDown"]["stabilizationWindowSeconds"] == 2 * (240 + 124)
    assert large["scaleDown"]["stabilizationWindowSeconds"] == 3600  # the HPA's maximum window
    assert small["scaleUp"]["stabilizationWindowSeconds"] == large["scaleUp"]["stabilizationWindowSeconds"] == 0
    assert small["scaleUp"]["policies"][0]["periodSeconds"] < large["scaleUp"]["policies"][0]["periodSeconds"]


def test_missing_metrics_fall_back_instead_of_scaling_down():
    obj = scaled_object(PLAN, {})
    assert obj["spec"]["fallback"] == {"failureThreshold": 3, "replicas": 4}
    queries = {t["name"]: t["metadata"] for t in obj["spec"]["triggers"]}
    assert "or vector(0)" not in queries["queue"]["query"] and "or vector(0)" not in queries["kv_cache"]["query"]
    assert {m["ignoreNullValues"] for m in queries.values()} == {"false"}
