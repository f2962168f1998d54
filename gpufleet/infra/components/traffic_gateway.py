"""Envoy Gateway: the chart and images (upstream, or the stack's ACR in China), the EnvoyProxy data
plane behind the cloud's L4 load balancer, the GatewayClass and the Gateway.

Pure functions; `TrafficRouter` registers what they return.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gpufleet.core import clouds
from gpufleet.core.clouds import tag_string
from gpufleet.core.manifests import mirror_reference
from gpufleet.core.traffic_names import (
    ENVOY_PROXY_NAME, GATEWAY_CLASS, GATEWAY_NAMESPACE, GATEWAY_SERVICE_NAME, LISTENER_NAME, LISTENER_PORT,
)

CONTROLLER_NAME = "gateway.envoyproxy.io/gatewayclass-controller"
# Envoy Gateway v1.7 supports Kubernetes 1.32-1.35 (gateway.envoyproxy.io compatibility
# matrix) and bundles the Gateway API v1.4 CRDs. China stacks pull the chart and
# the three images from their own ACR (mirror them with `crane copy`, see docs/promote.md).
from gpufleet.core.gateway_pins import (  # noqa: E402,F401  (pins are data in core; names kept here)
    ENVOY_GATEWAY_CHART, ENVOY_GATEWAY_IMAGE, ENVOY_GATEWAY_VERSION, ENVOY_PROXY_IMAGE, ENVOY_RATELIMIT_IMAGE,
)

__all__ = ["tag_string"]  # re-exported: callers had it from the traffic module


def load_balancer_annotations(cloud: str, stack: str, tags: Mapping[str, str], *, public: bool = True) -> dict[str, str]:
    """Service annotations for the L4 load balancer in front of Envoy (internet-facing or VPC-only),
    as the stack's cloud wants them (gpufleet.core.clouds)."""
    return clouds.get(cloud).load_balancer_annotations(stack, tags, public=public)


@dataclass(frozen=True)
class GatewayImages:
    chart: str
    controller: str
    proxy: str
    ratelimit: str


def gateway_images(jurisdiction: str, registry_url: str) -> GatewayImages:
    """Upstream for global stacks; the stack's ACR for China stacks (no pulls from outside).

    The chart is pulled by Helm where `pulumi up` runs, so it uses the ACR's
    public endpoint; the nodes pull images over the VPC endpoint.
    """
    if jurisdiction != "cn":
        return GatewayImages(ENVOY_GATEWAY_CHART, ENVOY_GATEWAY_IMAGE, ENVOY_PROXY_IMAGE, ENVOY_RATELIMIT_IMAGE)
    public = registry_url.replace("-registry-vpc.", "-registry.", 1).rstrip("/")
    return GatewayImages(
        chart=f"oci://{public}/gateway-helm",
        controller=mirror_reference(ENVOY_GATEWAY_IMAGE, registry_url),
        proxy=mirror_reference(ENVOY_PROXY_IMAGE, registry_url),
        ratelimit=mirror_reference(ENVOY_RATELIMIT_IMAGE, registry_url),
    )


def helm_values(images: GatewayImages) -> dict[str, Any]:
    """Envoy Gateway chart values: images pinned (from ACR in China), two controller replicas."""
    return {
        "global": {
            "images": {
                "envoyGateway": {"image": images.controller, "pullPolicy": "IfNotPresent"},
                "ratelimit": {"image": images.ratelimit, "pullPolicy": "IfNotPresent"},
            },
        },
        "deployment": {"replicas": 2},
        "podDisruptionBudget": {"minAvailable": 1},
        "config": {"envoyGateway": {"gateway": {"controllerName": CONTROLLER_NAME}, "provider": {"type": "Kubernetes"}}},
    }


def envoy_proxy_spec(proxy_image: str, annotations: Mapping[str, str]) -> dict[str, Any]:
    """The data plane: two Envoy replicas behind one LoadBalancer Service with a fixed name."""
    return {
        "provider": {
            "type": "Kubernetes",
            "kubernetes": {
                "envoyDeployment": {"replicas": 2, "container": {"image": proxy_image}},
                "envoyPDB": {"minAvailable": 1},
                "envoyService": {
                    "name": GATEWAY_SERVICE_NAME,
                    "type": "LoadBalancer",
                    "externalTrafficPolicy": "Cluster",
                    "annotations": dict(annotations),
                },
            },
        },
    }


def gateway_spec() -> dict[str, Any]:
    return {
        "gatewayClassName": GATEWAY_CLASS,
        "listeners": [{
            "name": LISTENER_NAME,
            "protocol": "HTTP",
            "port": LISTENER_PORT,
            "allowedRoutes": {"namespaces": {"from": "Same"}},
        }],
    }


def gateway_class_spec() -> dict[str, Any]:
    return {
        "controllerName": CONTROLLER_NAME,
        "parametersRef": {
            "group": "gateway.envoyproxy.io", "kind": "EnvoyProxy",
            "name": ENVOY_PROXY_NAME, "namespace": GATEWAY_NAMESPACE,
        },
    }


def lb_address(status: Mapping[str, Any] | None) -> str | None:
    """The first load-balancer hostname (AWS NLB) or IP (Alibaba CLB) of a Service status."""
    ingress = ((status or {}).get("loadBalancer") or {}).get("ingress") or []
    for entry in ingress:
        address = entry.get("hostname") or entry.get("ip")
        if address:
            return str(address)
    return None
