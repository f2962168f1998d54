"""The Kubernetes objects of a stack's metrics pipeline, as plain dicts. Pure (no Pulumi).

One PodMonitor per release (in the release's namespace, target labels stack,
release and model), one for the Envoy Gateway data plane, the PrometheusRule with
the rules generated from `gpufleet:slo`, the dashboards' ConfigMaps, and the
monitoring namespace with its NetworkPolicies. Every custom resource validates
against the vendored upstream CRDs (`gpufleet.core.crds`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gpufleet.core import clouds
from gpufleet.core.autoscaling_addons import KEDA_NAMESPACE, PROMETHEUS_PORT
from gpufleet.core.dashboards import dashboard_json, stack_dashboards
from gpufleet.core.manifests import PORT
from gpufleet.core.observability_charts import DASHBOARD_LABEL, MONITORING_NAMESPACE, relabel_stack
from gpufleet.core.scheduling import release_namespace
from gpufleet.core.slo_rules import stack_rule_groups

if TYPE_CHECKING:
    from gpufleet.core.config import StackConfig

MONITORING = "monitoring.coreos.com/v1"
GATEWAY_NAMESPACE = "gateway"  # gpufleet.infra.components.traffic.GATEWAY_NAMESPACE
# Labels Envoy Gateway puts on its proxy pods (traffic.PROXY_SELECTOR); its admin/stats port.
ENVOY_PROXY_SELECTOR = {"app.kubernetes.io/managed-by": "envoy-gateway", "app.kubernetes.io/component": "proxy"}
ENVOY_METRICS_PORT = 19001
RULE_NAME = "gpufleet-slo"


def _labels(cfg: "StackConfig") -> dict[str, str]:
    return {"app.kubernetes.io/part-of": "gpufleet", "app.kubernetes.io/managed-by": "pulumi",
            "gpufleet.io/stack": cfg.stack}


def release_pod_monitor(cfg: "StackConfig", release: str) -> dict[str, Any]:
    """Scrape every pod of a release on vLLM's serving port, labelled stack/release/model."""
    model = cfg.releases[release].model
    relabel = relabel_stack(cfg) + [
        {"action": "replace", "targetLabel": "release", "replacement": release},
        {"action": "replace", "targetLabel": "model", "replacement": model},
    ]
    return {
        "apiVersion": MONITORING, "kind": "PodMonitor",
        "metadata": {"name": f"vllm-{release}", "namespace": release_namespace(release), "labels": _labels(cfg)},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": release}},
            "podMetricsEndpoints": [{"port": "http", "path": "/metrics",
                                     "interval": f"{cfg.observability.scrape_interval_s}s",
                                     "relabelings": relabel}],
        },
    }


def envoy_pod_monitor(cfg: "StackConfig") -> dict[str, Any]:
    """The gateway's proxies: per-route (envoy_cluster_name) request rate, status classes, latency.

    Kept in the monitoring namespace and pointed at the gateway's by namespaceSelector, so it
    does not depend on the order in which the traffic component creates that namespace."""
    return {
        "apiVersion": MONITORING, "kind": "PodMonitor",
        "metadata": {"name": "envoy-proxies", "namespace": MONITORING_NAMESPACE, "labels": _labels(cfg)},
        "spec": {
            "namespaceSelector": {"matchNames": [GATEWAY_NAMESPACE]},
            "selector": {"matchLabels": dict(ENVOY_PROXY_SELECTOR)},
            # By number: Envoy Gateway serves /stats/prometheus on 19001 whatever the port is named.
            "podMetricsEndpoints": [{"portNumber": ENVOY_METRICS_PORT, "path": "/stats/prometheus",
                                     "interval": f"{cfg.observability.scrape_interval_s}s",
                                     "relabelings": relabel_stack(cfg)}],
        },
    }


def prometheus_rule(cfg: "StackConfig") -> dict[str, Any]:
    """The SLO rules generated from gpufleet:slo, plus the GPU stockout alerts (core/capacity_rules.py)."""
    from gpufleet.core.capacity_rules import capacity_rule_group
    from gpufleet.core.moderation_monitoring import moderation_rule_group
    from gpufleet.core.moderation_stage import stage_enabled

    return {
        "apiVersion": MONITORING, "kind": "PrometheusRule",
        "metadata": {"name": RULE_NAME, "namespace": MONITORING_NAMESPACE, "labels": _labels(cfg)},
        "spec": {"groups": [*stack_rule_groups(cfg), capacity_rule_group(cfg.stack, cfg.cloud),
                            *([moderation_rule_group(cfg.stack)] if stage_enabled(cfg) else [])]},
    }


def dashboard_configmaps(cfg: "StackConfig") -> list[dict[str, Any]]:
    out = []
    for file, dashboard in stack_dashboards(cfg).items():
        name = f"gpufleet-dashboard-{file.removesuffix('.json')}"
        out.append({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": name, "namespace": MONITORING_NAMESPACE,
                                 "labels": {**_labels(cfg), DASHBOARD_LABEL: "1"}},
                    "data": {file: dashboard_json(dashboard)}})
    return out


def monitoring_namespace(cfg: "StackConfig") -> dict[str, Any]:
    # node-exporter and dcgm-exporter need host access; they live here, so `privileged`
    # is enforced and `restricted` is audited and warned (every other pod meets it).
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": MONITORING_NAMESPACE, "labels": {
        **_labels(cfg),
        "pod-security.kubernetes.io/enforce": "privileged",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
    }}}


def _netpol(cfg: "StackConfig", name: str, selector: dict[str, Any], types: list[str],
            **rules: Any) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": MONITORING_NAMESPACE, "labels": _labels(cfg)},
            "spec": {"podSelector": selector, "policyTypes": types, **rules}}


def _tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": p} for p in ports]


PROMETHEUS_POD = {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
OPERATOR_POD = {"matchLabels": {"app": "kube-prometheus-stack-operator"}}


def monitoring_network_policies(cfg: "StackConfig") -> list[dict[str, Any]]:
    """Default deny both ways, then: pods of the namespace talk to each other (Grafana ->
    Prometheus -> Alertmanager, Prometheus -> exporters); everyone resolves DNS and reaches the
    API server (443/6443; also where remote write goes); Prometheus scrapes pods in every
    namespace and the node endpoints (kubelet 10250, node-exporter 9100 on the host network);
    KEDA (its own namespace) queries Prometheus's API for the autoscaling triggers; the API
    server calls the operator's admission webhook (10250)."""
    same_ns = [{"podSelector": {}}]
    dns = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
           "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
    return [
        _netpol(cfg, "default-deny", {}, ["Ingress", "Egress"]),
        _netpol(cfg, "allow-same-namespace", {}, ["Ingress", "Egress"],
                ingress=[{"from": same_ns}], egress=[{"to": same_ns}]),
        _netpol(cfg, "allow-dns", {}, ["Egress"],
                egress=[{"to": [dns], "ports": [{"protocol": "UDP", "port": 53}, *_tcp(53)]}]),
        # The API server's address is not a pod; NetworkPolicy can only name its ports.
        _netpol(cfg, "allow-kube-api", {}, ["Egress"], egress=[{"ports": _tcp(443, 6443)}]),
        _netpol(cfg, "prometheus-scrape", PROMETHEUS_POD, ["Egress"], egress=[
            {"to": [{"namespaceSelector": {}}]},
            {"to": [{"ipBlock": {"cidr": cfg.network.vpc_cidr}}], "ports": _tcp(9100, 10250)},
        ]),
        _netpol(cfg, "prometheus-api-from-keda", PROMETHEUS_POD, ["Ingress"], ingress=[
            {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": KEDA_NAMESPACE}}}],
             "ports": _tcp(PROMETHEUS_PORT)}]),
        _netpol(cfg, "operator-webhook", OPERATOR_POD, ["Ingress"], ingress=[{"ports": _tcp(10250)}]),
    ]


def scrape_targets(cfg: "StackConfig") -> list[tuple[str, str, str]]:
    """(target, namespace, what) for the preview: what Prometheus scrapes in this stack."""
    rows = [(f"PodMonitor vllm-{r}", release_namespace(r), f"vLLM /metrics :{PORT} (stack, release={r}, model)")
            for r in sorted(cfg.releases)]
    if cfg.traffic is not None:
        rows.append(("PodMonitor envoy-proxies", GATEWAY_NAMESPACE, f"Envoy /stats/prometheus :{ENVOY_METRICS_PORT}"))
    rows += [("ServiceMonitor dcgm-exporter", MONITORING_NAMESPACE, "GPU util, memory, power, XID (GPU nodes)"),
             ("ServiceMonitor kube-state-metrics", MONITORING_NAMESPACE, "replicas, pods, nodes"),
             ("ServiceMonitor node-exporter", MONITORING_NAMESPACE, "node CPU, memory, disk, network")]
    if clouds.get(cfg.cloud).needs_metrics_server:
        rows.append(("metrics-server", "kube-system", "resource metrics API (HPA CPU, kubectl top)"))
    return rows


def observability_objects(cfg: "StackConfig") -> list[dict[str, Any]]:
    """Every object the component creates besides the Helm releases, namespace first."""
    from gpufleet.core.moderation_monitoring import moderation_pod_monitors
    monitors = [release_pod_monitor(cfg, r) for r in sorted(cfg.releases)]
    if cfg.traffic is not None:
        monitors.append(envoy_pod_monitor(cfg))
    monitors += moderation_pod_monitors(cfg)  # China: the moderation stage in front of each release
    return [monitoring_namespace(cfg), *monitoring_network_policies(cfg), *monitors, prometheus_rule(cfg),
            *dashboard_configmaps(cfg)]
