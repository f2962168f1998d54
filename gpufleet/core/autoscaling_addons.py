"""Chart and image pins of the autoscaling add-ons (KEDA, Karpenter) and their Helm values, as data.

Versions live in `catalog/autoscaling.yaml` and match the CRDs vendored in `k8s/crds/`.
China stacks take the chart and the images from their own ACR (the same tags, mirrored
by `gpufleet mirror`), like Envoy Gateway: nothing is pulled from outside mainland China.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from gpufleet.core.manifests import mirror_reference

CATALOG = Path(__file__).resolve().parent / "catalog" / "autoscaling.yaml"
KEDA_NAMESPACE = "keda"
KARPENTER_NAMESPACE = "kube-system"
KARPENTER_SERVICE_ACCOUNT = "karpenter"
# China: charts live in their own ACR namespace. `helm push` names the repository after the chart,
# and the KEDA chart and the KEDA image are both `keda`: in one namespace, one tag would hold both.
CHARTS_NAMESPACE = "gpufleet-charts"


@lru_cache(maxsize=1)
def catalog() -> dict[str, Any]:
    return yaml.safe_load(CATALOG.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class ChartSource:
    chart: str
    version: str
    repo: str | None  # a classic Helm repository; None for an OCI chart


def keda_chart(jurisdiction: str, registry_url: str) -> ChartSource:
    k = catalog()["keda"]
    if jurisdiction != "cn":
        return ChartSource(k["chart"], k["version"], k["repo"])
    host = registry_url.replace("-registry-vpc.", "-registry.", 1).split("/", 1)[0]
    return ChartSource(f"oci://{host}/{CHARTS_NAMESPACE}/keda", k["version"], None)


def _image(ref: str) -> dict[str, str]:
    """KEDA's chart splits images into registry, repository and tag."""
    host, _, rest = ref.partition("/")
    repository, _, tag = rest.rpartition(":")
    return {"registry": host, "repository": repository, "tag": tag}


def keda_values(jurisdiction: str, registry_url: str, system_selector: dict[str, str]) -> dict[str, Any]:
    """Two operators and metrics servers on the system pool, restricted pods, images in region."""
    images = catalog()["keda"]["images"]
    if jurisdiction == "cn":
        images = {k: mirror_reference(v, registry_url) for k, v in images.items()}
    restricted = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                  "readOnlyRootFilesystem": True, "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    return {
        "image": {"keda": _image(images["keda"]), "metricsApiServer": _image(images["metricsApiServer"]),
                  "webhooks": _image(images["webhooks"])},
        "operator": {"replicaCount": 2},
        "metricsServer": {"replicaCount": 2},
        "podDisruptionBudget": {"operator": {"minAvailable": 1}, "metricServer": {"minAvailable": 1}},
        "nodeSelector": system_selector,
        "securityContext": {"operator": restricted, "metricServer": restricted, "webhooks": restricted},
        "podSecurityContext": {"operator": {"runAsNonRoot": True}, "metricServer": {"runAsNonRoot": True},
                               "webhooks": {"runAsNonRoot": True}},
    }


def karpenter_chart() -> ChartSource:
    k = catalog()["karpenter"]
    return ChartSource(k["chart"], k["version"], None)


def karpenter_values(cluster_name: str, queue_name: str, role_arn: str, system_selector: dict[str, str]) -> dict[str, Any]:
    """The controller runs on the system managed node group (never on nodes it manages itself)."""
    image = catalog()["karpenter"]["image"]
    return {
        "settings": {"clusterName": cluster_name, "interruptionQueue": queue_name},
        "serviceAccount": {"name": KARPENTER_SERVICE_ACCOUNT, "annotations": {"eks.amazonaws.com/role-arn": role_arn}},
        "replicas": 2,
        "nodeSelector": system_selector,
        "controller": {"image": {"repository": image.rsplit(":", 1)[0], "tag": image.rsplit(":", 1)[1]},
                       "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}},
        "podDisruptionBudget": {"name": "karpenter", "maxUnavailable": 1},
    }


def karpenter_ami_alias() -> str:
    return catalog()["karpenter"]["amiAlias"]


# KEDA's ports: the metrics API server serves the External metrics API to the kube-apiserver,
# the admission webhooks validate ScaledObjects, the operator exposes Prometheus metrics.
KEDA_METRICS_API_PORT = 6443
KEDA_WEBHOOK_PORT = 9443
KEDA_OPERATOR_METRICS_PORT = 8080
PROMETHEUS_NAMESPACE = "monitoring"
PROMETHEUS_PORT = 9090


def _tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def _namespace(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def keda_network_policies() -> list[dict[str, Any]]:
    """Default deny for KEDA's namespace, then exactly its flows.

    KEDA queries Prometheus and the API server; the API server (not a pod, so only its
    ports can be named) calls the metrics API server and the webhooks; Prometheus scrapes
    the operator; every pod resolves DNS.
    """
    dns = {"to": [{**_namespace("kube-system"), "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
           "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
    policies = [
        ("default-deny", ["Ingress", "Egress"], {}),
        ("allow-dns-api-prometheus", ["Egress"], {"egress": [
            dns, {"ports": _tcp(443, 6443)},
            {"to": [_namespace(PROMETHEUS_NAMESPACE)], "ports": _tcp(PROMETHEUS_PORT)}]}),
        ("allow-apiserver-and-scrapes", ["Ingress"], {"ingress": [
            {"ports": _tcp(KEDA_METRICS_API_PORT, KEDA_WEBHOOK_PORT)},
            {"from": [_namespace(PROMETHEUS_NAMESPACE)], "ports": _tcp(KEDA_OPERATOR_METRICS_PORT)}]}),
    ]
    return [{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": {"name": name, "namespace": KEDA_NAMESPACE},
             "spec": {"podSelector": {}, "policyTypes": types, **rules}} for name, types, rules in policies]
