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

from gpufleet.core import clouds

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
    rules.append(clouds.get(cloud).stockout_alert(labels, RUNBOOK))  # the node autoscaler's own signal
    return {"name": f"gpufleet-{stack}-gpu-capacity", "rules": rules}
