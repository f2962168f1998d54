"""NetworkPolicy counts as hardening only where the cluster's CNI enforces it.

Flannel on ACK does not enforce NetworkPolicy at all (Terway in shared-ENI mode
with NetworkPolicy on does), and the EKS VPC CNI enforces it only with
`enableNetworkPolicy`. Without that, every default-deny the workload rules
check is a silent no-op, so this stack rule fails the cluster that cannot
enforce them. It judges the platform phase (where the cluster and its add-ons
are); inside the workloads stack alone there is no cluster to judge.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from .model import PolicyContext, Resource, Violation, is_unknown
from .props import as_list, get

EKS_CLUSTER = "aws:eks/cluster:Cluster"
EKS_ADDON = "aws:eks/addon:Addon"
ACK_TYPES = ("alicloud:cs/managedKubernetes:ManagedKubernetes", "alicloud:cs/kubernetes:Kubernetes")
TERWAY_ADDONS = ("terway-eniip", "terway-controlplane")


def _json(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value) if isinstance(value, str) and value else {}
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _ack_findings(cluster: Resource) -> list[str]:
    addons = cluster.props.get("addons")
    if is_unknown(addons):
        return []
    by_name = {str(get(a, "name", "")): get(a, "config") for a in as_list(addons) if isinstance(a, dict)}
    if "flannel" in by_name or not any(n in by_name for n in TERWAY_ADDONS):
        return ["uses Flannel (or no Terway add-on), which does not enforce NetworkPolicy: every default-deny is a "
                "no-op; install terway-eniip with NetworkPolicy \"true\" at cluster creation"]
    config = by_name.get("terway-eniip")
    if is_unknown(config):
        return []
    parsed = _json(config)
    if parsed is None or str(parsed.get("NetworkPolicy", "")).lower() != "true":
        return ["runs Terway without NetworkPolicy enabled (add-on config NetworkPolicy: \"true\"), so "
                "NetworkPolicies are not enforced"]
    return []


def _eks_findings(resources: Sequence[Resource]) -> list[str]:
    cni = [r for r in resources if r.type == EKS_ADDON and r.props.get("addonName") == "vpc-cni"]
    if not cni:
        return ["has no managed vpc-cni add-on with enableNetworkPolicy, so NetworkPolicies are not enforced"]
    values = cni[0].props.get("configurationValues")
    if is_unknown(values):
        return []
    parsed = _json(values)
    if parsed is None or str(parsed.get("enableNetworkPolicy", "")).lower() != "true":
        return ["vpc-cni add-on without configurationValues {\"enableNetworkPolicy\": \"true\"} does not enforce "
                "NetworkPolicy: every default-deny is a no-op"]
    return []


def network_policy_enforced(resources: Sequence[Resource], ctx: PolicyContext) -> list[Violation]:
    """Every cluster the stack creates runs a CNI that enforces NetworkPolicy."""
    found: list[Violation] = []
    for r in resources:
        if r.type in ACK_TYPES:
            found += [Violation(f"cluster: {m}", r) for m in _ack_findings(r)]
        elif r.type == EKS_CLUSTER:
            found += [Violation(f"cluster: {m}", r) for m in _eks_findings(resources)]
    return found
