"""Autoscaling policies: prod keeps on-demand GPU capacity, Karpenter has limits, KEDA has fallback."""

from __future__ import annotations

from gpufleet.policies import autoscaling_rules as rules
from gpufleet.policies.model import PolicyContext, Resource, StackContext


def ctx(environment: str = "prod") -> PolicyContext:
    return PolicyContext(StackContext(stack="s", cloud="aws", region="us-east-1", jurisdiction="global",
                                      environment=environment))


def nodepool(name: str, capacity: list[str] | None, weight: int = 10, limits: dict | None = None) -> Resource:
    reqs = [] if capacity is None else [{"key": "karpenter.sh/capacity-type", "operator": "In", "values": capacity}]
    spec = {"weight": weight, "template": {"spec": {"requirements": reqs,
                                                    "taints": [{"key": "nvidia.com/gpu", "value": "present",
                                                                "effect": "NoSchedule"}]}}}
    if limits is not None:
        spec["limits"] = limits
    return Resource(rules.NODEPOOL, name, {"spec": spec})


def messages(resources, context=None) -> list[str]:
    return [v.message for v in rules.no_prod_spot_only(resources, context or ctx())]


def test_prod_spot_only_and_unfloored_mixed_pools_are_refused():
    assert messages([nodepool("gpu", ["spot"])]) == ["node pool 'gpu' allows only spot capacity in a prod stack"]
    assert messages([nodepool("gpu", ["spot", "on-demand"])]) == [
        "NodePool 'gpu' may buy spot before any on-demand floor: add an on-demand NodePool with a higher weight"]


def test_an_on_demand_floor_preferred_by_weight_passes_and_staging_may_use_spot():
    floor = [nodepool("gpu-on-demand", ["on-demand"], 100), nodepool("gpu-spot", ["spot", "on-demand"], 10)]
    assert messages(floor) == []
    assert messages([nodepool("gpu", ["spot"])], ctx("staging")) == []
    assert messages([nodepool("gpu", None)]) == []  # Karpenter's default is on-demand


def test_ack_and_eks_spot_without_a_base_are_refused_in_prod():
    ack = Resource(rules.ACK_POOL, "gpu", {"spotStrategy": "SpotAsPriceGo"})
    based = Resource(rules.ACK_POOL, "gpu", {"spotStrategy": "SpotAsPriceGo", "onDemandBaseCapacity": 2})
    eks = Resource(rules.EKS_GROUP, "gpu", {"capacityType": "SPOT"})
    assert messages([ack, based, eks]) == ["node pool 'gpu' buys spot with no on-demand base capacity in a prod stack",
                                           "node pool 'gpu' is a spot-only managed node group in a prod stack"]


def test_karpenter_limits_are_required():
    no_limits = nodepool("gpu", ["on-demand"])
    assert rules.karpenter_limits(rules.NODEPOOL, no_limits.props, ctx()) == [
        "has no spec.limits for cpu, nvidia.com/gpu, so its cost has no ceiling"]
    capped = nodepool("gpu", ["on-demand"], limits={"cpu": "128", "nvidia.com/gpu": "16"})
    assert rules.karpenter_limits(rules.NODEPOOL, capped.props, ctx()) == []


def test_scaled_objects_need_fallback_replicas():
    assert rules.autoscaler_fallback(rules.SCALED_OBJECT, {"spec": {"triggers": []}}, ctx()) == [
        "has no fallback replicas: a Prometheus outage would leave scaling to stale or missing data"]
    assert rules.autoscaler_fallback(rules.SCALED_OBJECT, {"spec": {"fallback": {"failureThreshold": 3, "replicas": 2}}},
                                     ctx()) == []
