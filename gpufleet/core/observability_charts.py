"""Helm charts and values of the metrics pipeline, from the stack's config. Pure (no Pulumi).

kube-prometheus-stack (Prometheus Operator, Prometheus, Alertmanager, Grafana,
kube-state-metrics, node-exporter), NVIDIA dcgm-exporter on the GPU nodes of both
clouds (the same DCGM_FI_* names everywhere; on ACK it replaces the console's
GPU monitoring add-on, which is also DCGM-based), and metrics-server on EKS (ACK
ships its own). Versions and images come from `catalog/observability.yaml`;
China stacks take every chart and image from their own ACR.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from gpufleet.core import clouds, naming
from gpufleet.core.manifests import mirror_reference, parse_image
from gpufleet.core.observability_config import remote_write_url
from gpufleet.core.scheduling import gpu_node_selector, gpu_tolerations

if TYPE_CHECKING:
    from gpufleet.core.config import StackConfig

CATALOG = Path(__file__).resolve().parent / "catalog" / "observability.yaml"
MONITORING_NAMESPACE = "monitoring"
KPS_RELEASE = "kps"
DASHBOARD_LABEL = "grafana_dashboard"
# EBS gp3 on EKS (the cluster's CSI driver); ESSD PL0 on ACK (the csi-plugin's class).
STORAGE_CLASS = {"aws": "gp3", "alicloud": "alicloud-disk-essd"}


@lru_cache(maxsize=1)
def catalog() -> dict[str, Any]:
    return yaml.safe_load(CATALOG.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Chart:
    name: str
    chart: str  # what helm installs: a chart name (with repo) or an oci:// reference
    repo: str | None
    version: str


def registry_for(cfg: "StackConfig") -> str | None:
    """The ACR path China stacks pull from (in-VPC endpoint); None: upstream registries."""
    if cfg.jurisdiction != "cn":
        return None
    return f"{naming.acr_vpc_host(cfg.stack, cfg.region)}/gpufleet"


def chart(cfg: "StackConfig", name: str) -> Chart:
    entry = catalog()["charts"][name]
    registry = registry_for(cfg)
    if registry is None:
        return Chart(name, name, entry["repository"], entry["version"])
    public = registry.replace("-registry-vpc.", "-registry.", 1)  # helm runs outside the VPC
    return Chart(name, f"oci://{public}/{name}", None, entry["version"])


def image(cfg: "StackConfig", name: str) -> str:
    ref = catalog()["images"][name]["image"]
    registry = registry_for(cfg)
    return ref if registry is None else mirror_reference(ref, registry)


def _split(ref: str) -> dict[str, str]:
    """{registry, repository, tag} as kube-prometheus-stack and its subcharts take images."""
    parsed = parse_image(ref)
    return {"registry": parsed.host, "repository": parsed.repository, "tag": parsed.tag or ""}


def _full(ref: str) -> dict[str, str]:
    parsed = parse_image(ref)
    return {"repository": f"{parsed.host}/{parsed.repository}", "tag": parsed.tag or ""}


def kube_prometheus_values(cfg: "StackConfig") -> dict[str, Any]:
    obs = cfg.observability
    interval = f"{obs.scrape_interval_s}s"
    prom: dict[str, Any] = {
        "image": _split(image(cfg, "prometheus")),
        "replicas": obs.prometheus_replicas,
        "retention": f"{obs.retention_days}d",
        "scrapeInterval": interval,
        "evaluationInterval": interval,
        "externalLabels": {"stack": cfg.stack, "cloud": cfg.cloud, "region": cfg.region},
        # Select every ServiceMonitor/PodMonitor/PrometheusRule, whoever created it.
        "ruleSelectorNilUsesHelmValues": False,
        "serviceMonitorSelectorNilUsesHelmValues": False,
        "podMonitorSelectorNilUsesHelmValues": False,
        "storageSpec": {"volumeClaimTemplate": {"spec": {
            "storageClassName": STORAGE_CLASS[cfg.cloud], "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": f"{obs.storage_gib}Gi"}}}}},
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "fsGroup": 2000,
                            "seccompProfile": {"type": "RuntimeDefault"}},
    }
    url = remote_write_url(obs, cfg.region)
    if url is not None:
        prom["remoteWrite"] = [_remote_write(cfg, url)]
    return {
        "fullnameOverride": KPS_RELEASE,
        "crds": {"enabled": True},
        "prometheus": {"prometheusSpec": prom},
        "alertmanager": {"alertmanagerSpec": {"image": _split(image(cfg, "alertmanager")), "replicas": 2}},
        "prometheusOperator": {
            "image": _split(image(cfg, "prometheus-operator")),
            "prometheusConfigReloader": {"image": _split(image(cfg, "prometheus-config-reloader"))},
            "admissionWebhooks": {"patch": {"image": _split(image(cfg, "kube-webhook-certgen"))}},
        },
        "kube-state-metrics": {"image": _split(image(cfg, "kube-state-metrics")),
                               "metricLabelsAllowlist": ["nodes=[gpufleet.io/pool]"]},
        "prometheus-node-exporter": {"image": _split(image(cfg, "node-exporter"))},
        "grafana": {
            "image": _split(image(cfg, "grafana")),
            "sidecar": {"image": _split(image(cfg, "k8s-sidecar")),
                        "dashboards": {"enabled": True, "label": DASHBOARD_LABEL, "labelValue": "1",
                                       "searchNamespace": MONITORING_NAMESPACE}},
            # No public Grafana: reach it with kubectl port-forward; no anonymous access.
            "service": {"type": "ClusterIP"},
            "grafana.ini": {"auth.anonymous": {"enabled": False}, "analytics": {"check_for_updates": False,
                                                                                  "reporting_enabled": False}},
        },
        # Managed control planes: their components are not scrapeable from the cluster.
        "kubeControllerManager": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "kubeEtcd": {"enabled": False},
        "kubeProxy": {"enabled": False},
    }


def _remote_write(cfg: "StackConfig", url: str) -> dict[str, Any]:
    """AMP signs with SigV4 (the Prometheus pod's IRSA role); ARMS takes the VPC endpoint's URL."""
    entry: dict[str, Any] = {"url": url, "queueConfig": {"maxSamplesPerSend": 1000, "capacity": 2500}}
    if clouds.get(cfg.cloud).remote_write_sigv4:
        entry["sigv4"] = {"region": cfg.region}
    return entry


def relabel_stack(cfg: "StackConfig") -> list[dict[str, str]]:
    return [{"action": "replace", "targetLabel": "stack", "replacement": cfg.stack}]


def dcgm_values(cfg: "StackConfig") -> dict[str, Any]:
    return {
        "image": {**_full(image(cfg, "dcgm-exporter")), "pullPolicy": "IfNotPresent"},
        "nodeSelector": gpu_node_selector(cfg),
        "tolerations": gpu_tolerations(),
        "serviceMonitor": {"enabled": True, "interval": f"{cfg.observability.scrape_interval_s}s",
                           "relabelings": relabel_stack(cfg)},
    }


def metrics_server_values(cfg: "StackConfig") -> dict[str, Any]:
    return {"image": _full(image(cfg, "metrics-server")), "replicas": 2,
            "podDisruptionBudget": {"enabled": True, "minAvailable": 1}}


def charts_for(cfg: "StackConfig") -> list[tuple[Chart, dict[str, Any]]]:
    """(chart, values) in install order; metrics-server only where the cloud lacks it (EKS)."""
    out = [(chart(cfg, "kube-prometheus-stack"), kube_prometheus_values(cfg)),
           (chart(cfg, "dcgm-exporter"), dcgm_values(cfg))]
    if clouds.get(cfg.cloud).needs_metrics_server:
        out.append((chart(cfg, "metrics-server"), metrics_server_values(cfg)))
    return out
