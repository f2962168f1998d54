"""Alerts for GPU stockouts: model-server pods that cannot get a GPU node, and why.

A stockout shows as the autoscaler wanting more replicas than are ready while pods sit
unschedulable (kube-state-metrics), together with the node autoscaler's own failure
signal: Karpenter's cloud-provider errors of type InsufficientCapacityError (EKS) or
cluster-autoscaler's failed scale-ups (ACK). The first pages (users are short of
capacity now); the node-autoscaler signals open a ticket with the evidence.
Runbook: docs/autoscaling.md, "GPU stockouts".
"""

from __future__ import annotations

from typing import Any

RUNBOOK = "docs/autoscaling.md#gpu-stockouts"
MODEL_NS = 'namespace=~"llm-.+"'


def capacity_rule_group(stack: str, cloud: str, for_s: int = 600) -> dict[str, Any]:
    """One PrometheusRule group; `for_s` shortens in tests (promtool) and compressed rehearsals."""
    labels = {"stack": stack, "kind": "capacity"}
    shortfall = (
        f"(sum by (namespace) (kube_pod_status_unschedulable{{{MODEL_NS}}}) > 0)"
        f" and on (namespace) (sum by (namespace) (kube_deployment_spec_replicas{{{MODEL_NS}}})"
        f" > sum by (namespace) (kube_deployment_status_replicas_ready{{{MODEL_NS}}}))"
    )
    rules: list[dict[str, Any]] = [{
        "alert": "GpuCapacityShortfall", "expr": shortfall, "for": f"{for_s}s",
        "labels": {**labels, "severity": "critical"},
        "annotations": {"summary": "Model-server pods in {{ $labels.namespace }} wait for GPU nodes",
                        "description": "Desired replicas exceed ready ones and pods are unschedulable for "
                                       f"{for_s // 60} minutes: the node autoscaler cannot add GPU capacity.",
                        "runbook_url": RUNBOOK}}]
    if cloud == "aws":
        rules.append({
            "alert": "KarpenterInsufficientCapacity",
            "expr": 'sum(increase(karpenter_cloudprovider_errors_total{error="InsufficientCapacityError"}[15m])) > 0',
            "labels": {**labels, "severity": "warning"},
            "annotations": {"summary": "EC2 has no capacity for some allowed GPU instance types or zones",
                            "description": "Karpenter fell back to other types, zones or capacity types; check "
                                           "which offerings fail and widen gpuPool.instanceTypes if needed.",
                            "runbook_url": RUNBOOK}})
    else:
        rules.append({
            "alert": "ClusterAutoscalerScaleUpFailing",
            "expr": "sum(increase(cluster_autoscaler_failed_scale_ups_total[15m])) > 0",
            "labels": {**labels, "severity": "warning"},
            "annotations": {"summary": "ACK's cluster-autoscaler failed to add nodes to a node pool",
                            "description": "ESS could not launch any listed instance type in the pool's zones; "
                                           "check the scaling activity and widen gpuPool.instanceTypes.",
                            "runbook_url": RUNBOOK}})
    return {"name": f"gpufleet-{stack}-gpu-capacity", "rules": rules}
