"""NetworkPolicies of the gateway namespace: default deny, then exactly the flows Envoy Gateway needs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gpufleet.core.manifests import PORT
from gpufleet.core.traffic_names import GATEWAY_NAMESPACE, LISTENER_PORT, backend_for

# Pod labels Envoy Gateway puts on what it runs (proxy Deployments; the chart's controller).
PROXY_SELECTOR = {"app.kubernetes.io/managed-by": "envoy-gateway", "app.kubernetes.io/component": "proxy"}
CONTROLLER_SELECTOR = {"control-plane": "envoy-gateway"}
# Envoy Gateway shifts privileged listener ports by 10000 so Envoy runs without NET_BIND_SERVICE.
PROXY_LISTENER_PORT = LISTENER_PORT + 10000
CONTROLLER_PORTS = (18000, 18002)  # xDS, rate limit, wasm
WEBHOOK_PORT = 9443  # the controller's proxy-topology webhook, called by the API server
METRICS_PORT = 19001
MONITORING_NAMESPACE = "monitoring"


def _tcp(port: int, end_port: int | None = None) -> dict[str, Any]:
    return {"protocol": "TCP", "port": port, **({"endPort": end_port} if end_port else {})}


def _namespace_peer(*names: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": sorted(names)}]}}


def gateway_network_policies(releases: Iterable[str]) -> list[dict[str, Any]]:
    """Default deny for the gateway namespace, then exactly the flows Envoy Gateway needs.

    Clients reach Envoy's listener; Envoy reaches the release Services and its
    controller (xDS); the controller and its cert job reach the API server; all
    pods resolve DNS; Prometheus scrapes metrics.
    """
    everyone: dict[str, Any] = {}
    not_proxy = {"matchExpressions": [{"key": "app.kubernetes.io/component", "operator": "NotIn", "values": ["proxy"]}]}
    namespaces = [backend_for(r).namespace for r in sorted(releases)]
    policies = [
        ("default-deny", everyone, ["Ingress", "Egress"], {}),
        ("allow-dns", everyone, ["Egress"], {"egress": [{
            "to": [{**_namespace_peer("kube-system"), "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
            "ports": [{"protocol": "UDP", "port": 53}, _tcp(53)],
        }]}),
        # The API server's address is not a pod; NetworkPolicy can only name its ports.
        ("allow-kube-api", not_proxy, ["Egress"], {"egress": [{"ports": [_tcp(443), _tcp(6443)]}]}),
        ("proxy-allow-clients", {"matchLabels": PROXY_SELECTOR}, ["Ingress"], {"ingress": [
            {"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [_tcp(PROXY_LISTENER_PORT)]},
            {"from": [_namespace_peer(MONITORING_NAMESPACE)], "ports": [_tcp(METRICS_PORT)]},
        ]}),
        ("proxy-to-backends", {"matchLabels": PROXY_SELECTOR}, ["Egress"], {"egress": [
            {"to": [_namespace_peer(*namespaces)], "ports": [_tcp(PORT)]},
            {"to": [{"podSelector": {"matchLabels": CONTROLLER_SELECTOR}}], "ports": [_tcp(*CONTROLLER_PORTS)]},
        ]}),
        ("controller-allow-proxies", {"matchLabels": CONTROLLER_SELECTOR}, ["Ingress"], {"ingress": [
            {"from": [{"podSelector": {"matchLabels": PROXY_SELECTOR}}], "ports": [_tcp(*CONTROLLER_PORTS)]},
            {"ports": [_tcp(WEBHOOK_PORT)]},
            {"from": [_namespace_peer(MONITORING_NAMESPACE)], "ports": [_tcp(METRICS_PORT)]},
        ]}),
    ]
    return [
        {"metadata": {"name": name, "namespace": GATEWAY_NAMESPACE},
         "spec": {"podSelector": selector, "policyTypes": types, **rules}}
        for name, selector, types, rules in policies
    ]
