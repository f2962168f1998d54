"""Autoscaling guard rails: prod keeps on-demand GPU capacity, node autoscalers have a ceiling,
and model-server autoscalers hold replicas when their metrics disappear."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from .model import PolicyContext, Resource, Violation
from .props import get

NODEPOOL = "kubernetes:karpenter.sh/v1:NodePool"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
ACK_POOL = "alicloud:cs/nodePool:NodePool"
EKS_GROUP = "aws:eks/nodeGroup:NodeGroup"


def _capacity_types(pool: Mapping[str, Any]) -> list[str]:
    for req in get(pool, "spec.template.spec.requirements") or []:
        if isinstance(req, Mapping) and req.get("key") == "karpenter.sh/capacity-type" and req.get("operator") == "In":
            return list(req.get("values") or [])
    return ["on-demand"]  # Karpenter launches on-demand when a NodePool does not name capacity types


def _spot_only(r: Resource) -> str | None:
    """Why one node pool would buy only spot GPU capacity, or None."""
    if r.type == NODEPOOL:
        types = _capacity_types(r.props)
        if "spot" in types and "on-demand" not in types:
            return "allows only spot capacity"
        return None
    if r.type == ACK_POOL and r.props.get("spotStrategy") not in (None, "NoSpot"):
        if not r.props.get("onDemandBaseCapacity"):
            return "buys spot with no on-demand base capacity"
    if r.type == EKS_GROUP and r.props.get("capacityType") == "SPOT":
        return "is a spot-only managed node group"
    return None


def no_prod_spot_only(resources: Sequence[Resource], ctx: PolicyContext) -> list[Violation]:
    """A prod stack keeps an on-demand floor of GPU capacity: no spot-only node pool, and Karpenter
    spot pools only beside an on-demand pool that is preferred (higher weight)."""
    if ctx.stack.environment != "prod":
        return []
    found = [Violation(f"node pool {r.name!r} {why} in a prod stack", r)
             for r in resources if (why := _spot_only(r))]
    pools = [r for r in resources if r.type == NODEPOOL]
    on_demand = [r for r in pools if _capacity_types(r.props) == ["on-demand"]]
    for r in pools:
        types = _capacity_types(r.props)
        if "spot" in types and "on-demand" in types and not any(
                (get(o.props, "spec.weight") or 0) > (get(r.props, "spec.weight") or 0) for o in on_demand):
            found.append(Violation(f"NodePool {r.name!r} may buy spot before any on-demand floor: add an "
                                   "on-demand NodePool with a higher weight", r))
    return found


def karpenter_limits(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """Every Karpenter NodePool caps its CPUs and, for GPU pools, its GPUs (`spec.limits`)."""
    if resource_type != NODEPOOL:
        return []
    limits = get(props, "spec.limits") or {}
    missing = [k for k in ("cpu", "nvidia.com/gpu") if k not in limits]
    taints = get(props, "spec.template.spec.taints") or []
    gpu_pool = any(isinstance(t, Mapping) and t.get("key") == "nvidia.com/gpu" for t in taints)
    if not gpu_pool and missing == ["nvidia.com/gpu"]:
        return []
    return [f"has no spec.limits for {', '.join(missing)}, so its cost has no ceiling"] if missing else []


def autoscaler_fallback(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """Every KEDA ScaledObject sets `fallback` replicas (>= 1) for when its metrics cannot be read."""
    if resource_type != SCALED_OBJECT:
        return []
    fallback = get(props, "spec.fallback") or {}
    replicas = fallback.get("replicas") if isinstance(fallback, Mapping) else None
    if not isinstance(replicas, int) or replicas < 1:
        return ["has no fallback replicas: a Prometheus outage would leave scaling to stale or missing data"]
    return []
