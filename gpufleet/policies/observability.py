"""Rules for the metrics pipeline: every model server is scraped, every prod stack pages on its
SLOs, and metrics written to a managed Prometheus stay in the stack's region (China: mainland).

Plain functions over registered resources, like every rule of the pack.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

from . import k8s
from .locations import host_regions, is_mainland
from .model import PolicyContext, Resource, Violation
from .props import get, known, tags_of

PROMETHEUS_CHART = "kube-prometheus-stack"
# The SLIs a prod stack must page on (labels `slo` and `severity` of the generated alerts).
REQUIRED_PAGES = ("errors", "ttft")


def _objects(resources: Sequence[Resource], kind: str) -> list[Resource]:
    return [r for r in resources if k8s.kind_of(r.type) == kind]


def _pod_labels(props: Mapping[str, Any]) -> Mapping[str, Any]:
    labels = get(props, "spec.template.metadata.labels")
    return labels if isinstance(labels, Mapping) else {}


def _selects(monitor: Mapping[str, Any], namespace: str, labels: Mapping[str, Any]) -> bool:
    names = get(monitor, "spec.namespaceSelector.matchNames")
    in_scope = (names and namespace in names) or (not names and k8s.namespace_of(monitor) == namespace)
    wanted = get(monitor, "spec.selector.matchLabels") or {}
    endpoints = get(monitor, "spec.podMetricsEndpoints") or []
    return bool(in_scope and endpoints and wanted and all(labels.get(k) == v for k, v in wanted.items()))


def every_release_scraped(resources: Sequence[Resource], ctx: PolicyContext) -> list[Violation]:
    """Each model-server Deployment is selected by a PodMonitor with a metrics endpoint."""
    monitors = [m.props for m in _objects(resources, "PodMonitor")]
    found = []
    for dep in _objects(resources, "Deployment"):
        labels = _pod_labels(dep.props)
        if labels.get("app.kubernetes.io/component") != k8s.MODEL_SERVER_COMPONENT:
            continue
        namespace = k8s.namespace_of(dep.props)
        if not any(_selects(m, namespace, labels) for m in monitors):
            found.append(Violation(f"model server {namespace}/{k8s.name_of(dep.props)} is not scraped by any "
                                   "PodMonitor (its SLO alerts and dashboards would be blind)", dep))
    return found


def _environment(resources: Sequence[Resource]) -> str | None:
    envs = Counter(str(tags_of(r.props).get("environment", "")) for r in resources)
    envs.pop("", None)
    return envs.most_common(1)[0][0] if envs else None


def prod_slo_alerts(resources: Sequence[Resource], ctx: PolicyContext) -> list[Violation]:
    """A prod stack (gpufleet:environment, else its resources' tag) has critical burn-rate alerts on errors and TTFT."""
    if (ctx.stack.environment or _environment(resources)) != "prod":
        return []
    pages = set()
    for rule in _objects(resources, "PrometheusRule"):
        for group in get(rule.props, "spec.groups") or []:
            for r in group.get("rules", []) if isinstance(group, Mapping) else []:
                labels = r.get("labels") or {}
                if "alert" in r and labels.get("severity") == "critical" and labels.get("slo"):
                    pages.add(labels["slo"])
    missing = [s for s in REQUIRED_PAGES if s not in pages]
    if not missing:
        return []
    return [Violation(f"prod stack has no paging SLO burn-rate alert for {', '.join(missing)} "
                      "(a PrometheusRule generated from gpufleet:slo)")]


def _remote_write_urls(props: Mapping[str, Any]) -> list[str]:
    writes = get(props, "values.prometheus.prometheusSpec.remoteWrite") or []
    return [str(w.get("url")) for w in writes if isinstance(w, Mapping) and known(w.get("url"))]


def metrics_stay_in_region(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """Prometheus remote write goes to the stack's own region; a cn stack's never leaves the mainland."""
    if resource_type != "kubernetes:helm.sh/v3:Release" or PROMETHEUS_CHART not in str(props.get("chart", "")):
        return []
    found = []
    for url in _remote_write_urls(props):
        host = urlsplit(url).hostname or url
        regions = host_regions(host)
        if ctx.jurisdiction == "cn":
            if not regions or not all(is_mainland(r) for r in regions):
                found.append(f"remote write to {host} sends a cn stack's metrics out of mainland China "
                             "(allowed: ARMS Prometheus in the stack's region)")
                continue
        elif any(is_mainland(r) for r in regions):
            found.append(f"remote write to {host} sends a global stack's metrics into mainland China")
            continue
        if ctx.stack.region and regions and ctx.stack.region not in regions:
            found.append(f"remote write to {host} leaves the stack's region {ctx.stack.region}")
    return found
