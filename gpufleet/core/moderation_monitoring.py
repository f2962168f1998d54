"""Watching the China moderation stage: a PodMonitor per release's proxy and alerts on its counters.

The stage fails closed, so a failing moderation provider means refused users: that pages.
A fail-open stage (non-prod only) letting unscreened text through opens a ticket. Metric
names are the proxy's own (`gpufleet/moderation/metrics.py`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gpufleet.core import moderation_stage as stage
from gpufleet.core.observability_charts import relabel_stack
from gpufleet.core.scheduling import release_namespace

if TYPE_CHECKING:
    from gpufleet.core.config import StackConfig

MONITORING = "monitoring.coreos.com/v1"
RUNBOOK = "docs/moderation.md"


def moderation_pod_monitors(cfg: StackConfig) -> list[dict[str, Any]]:
    """One PodMonitor per release whose traffic goes through the stage (none when it is off)."""
    if not stage.stage_enabled(cfg):
        return []
    return [{
        "apiVersion": MONITORING, "kind": "PodMonitor",
        "metadata": {"name": f"moderation-{release}", "namespace": release_namespace(release),
                     "labels": {"app.kubernetes.io/part-of": "gpufleet", "app.kubernetes.io/managed-by": "pulumi",
                                "gpufleet.io/stack": cfg.stack}},
        "spec": {"selector": {"matchLabels": stage.selector(release)},
                 "podMetricsEndpoints": [{"port": "metrics", "path": "/metrics",
                                          "interval": f"{cfg.observability.scrape_interval_s}s",
                                          "relabelings": [*relabel_stack(cfg), {"action": "replace",
                                                          "targetLabel": "release", "replacement": release}]}]},
    } for release in sorted(cfg.releases)]


def moderation_rule_group(stack: str, for_s: int = 300) -> dict[str, Any]:
    labels = {"stack": stack, "kind": "moderation"}
    failing = ("sum by (release) (rate(gpufleet_moderation_errors_total[5m]))"
               " / sum by (release) (rate(gpufleet_moderation_checks_total[5m])) > 0.05")
    return {"name": f"gpufleet-{stack}-moderation", "rules": [
        {"alert": "ModerationFailing", "expr": failing, "for": f"{for_s}s",
         "labels": {**labels, "severity": "critical"},
         "annotations": {"summary": "Moderation checks for {{ $labels.release }} fail or time out",
                         "description": "More than 5% of moderation checks error or time out; the stage fails "
                                        "closed, so those users are refused.", "runbook_url": RUNBOOK}},
        {"alert": "ModerationFailOpen", "expr": "sum by (release) (increase(gpufleet_moderation_fail_open_total[15m])) > 0",
         "labels": {**labels, "severity": "warning"},
         "annotations": {"summary": "Unscreened text passed the stage for {{ $labels.release }} (fail-open)",
                         "description": "The moderation provider failed and the stack is fail-open (non-prod): "
                                        "output reached users without screening.", "runbook_url": RUNBOOK}},
    ]}
