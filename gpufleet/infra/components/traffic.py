"""Traffic shifting in the program: weights between releases (Gateway API) and between stacks
(weighted DNS). This module wires the components for a stack; the parts live beside it:

- `gpufleet.core.traffic_names`: names shared with `gpufleet promote` (backends, paths, outputs)
- `traffic_routes`: the weighted HTTPRoute and the ReferenceGrants
- `traffic_gateway`: Envoy Gateway chart, images, EnvoyProxy, GatewayClass, Gateway, LB annotations
- `traffic_netpol`: the gateway namespace's NetworkPolicies
- `traffic_dns`: record types and names, Alibaba Cloud DNS weights (official SDK)
- `traffic_components`: `TrafficRouter` and `WeightedEndpoint`

The names below are re-exported so that `from gpufleet.infra.components import traffic` keeps
working for code and tests written against the single module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import pulumi

from gpufleet.core.config import StackConfig
from gpufleet.core.traffic_config import TrafficConfig
from gpufleet.core.traffic_names import (
    ENVOY_PROXY_NAME, GATEWAY_API, GATEWAY_CLASS, GATEWAY_NAME, GATEWAY_NAMESPACE, GATEWAY_SERVICE_NAME,
    LISTENER_NAME, LISTENER_PORT, OUTPUT_GATEWAY_ADDRESS, RELEASE_HEADER, RELEASE_PATH_PREFIX, ROUTE_NAME, Backend,
    backend_for, release_path,
)
from gpufleet.infra.components.base import ClusterResult
from gpufleet.infra.components.moderation import moderation_route_backend
from gpufleet.infra.components.traffic_components import (
    DNS_RECORDS, TrafficRouter, TrafficRouterArgs, WeightedEndpoint, WeightedEndpointArgs, _address_of,
    _status_mapping, _unknown_output,
)
from gpufleet.infra.components.traffic_dns import (
    ALIDNS_ENDPOINT, ALIDNS_MIN_WEIGHT, ALIDNS_TTL_SECONDS, DNS_TTL_SECONDS, AlidnsRecordWeight, alidns_client,
    apply_weight, credential_client, record_type, relative_name, weight_calls,
)
from gpufleet.infra.components.traffic_gateway import (
    CONTROLLER_NAME, ENVOY_GATEWAY_CHART, ENVOY_GATEWAY_IMAGE, ENVOY_GATEWAY_VERSION, ENVOY_PROXY_IMAGE,
    ENVOY_RATELIMIT_IMAGE, GatewayImages, envoy_proxy_spec, gateway_class_spec, gateway_images, gateway_spec,
    helm_values, lb_address, load_balancer_annotations, tag_string,
)
from gpufleet.infra.components.traffic_netpol import (
    CONTROLLER_PORTS, CONTROLLER_SELECTOR, METRICS_PORT, MONITORING_NAMESPACE, PROXY_LISTENER_PORT, PROXY_SELECTOR,
    WEBHOOK_PORT, gateway_network_policies,
)
from gpufleet.infra.components.traffic_routes import REQUEST_TIMEOUT, httproute_spec, reference_grant_spec


# Everything the single traffic module used to hold, from the modules that hold it now.
__all__ = [
    "ALIDNS_ENDPOINT", "ALIDNS_MIN_WEIGHT", "ALIDNS_TTL_SECONDS", "AlidnsRecordWeight", "Backend",
    "CONTROLLER_NAME", "CONTROLLER_PORTS", "CONTROLLER_SELECTOR", "DNS_RECORDS", "DNS_TTL_SECONDS",
    "ENVOY_GATEWAY_CHART", "ENVOY_GATEWAY_IMAGE", "ENVOY_GATEWAY_VERSION", "ENVOY_PROXY_IMAGE",
    "ENVOY_PROXY_NAME", "ENVOY_RATELIMIT_IMAGE", "GATEWAY_API", "GATEWAY_CLASS", "GATEWAY_NAME",
    "GATEWAY_NAMESPACE", "GATEWAY_SERVICE_NAME", "GatewayImages", "LISTENER_NAME", "LISTENER_PORT",
    "METRICS_PORT", "MONITORING_NAMESPACE", "OUTPUT_GATEWAY_ADDRESS", "PROXY_LISTENER_PORT", "PROXY_SELECTOR",
    "RELEASE_HEADER", "RELEASE_PATH_PREFIX", "REQUEST_TIMEOUT", "ROUTE_NAME", "TrafficRouter",
    "TrafficRouterArgs", "WEBHOOK_PORT", "WeightedEndpoint", "WeightedEndpointArgs", "_address_of",
    "_status_mapping", "_unknown_output", "alidns_client", "apply_weight", "backend_for", "build_traffic",
    "credential_client", "endpoint_args", "endpoint_is_public", "envoy_proxy_spec", "gateway_class_spec",
    "gateway_images", "gateway_network_policies", "gateway_spec", "helm_values", "httproute_spec", "lb_address",
    "load_balancer_annotations", "record_type", "reference_grant_spec", "relative_name", "release_path",
    "router_args", "tag_string", "weight_calls",
]


# ---------------------------------------------------------------- program wiring


def endpoint_is_public(cfg: StackConfig) -> bool:
    """Global stacks serve the internet. A China stack does only once `gpufleet:compliance.publicEndpoint`
    declares it (ICP filing, generative-AI filing, moderation; enforced by the policy pack)."""
    if cfg.jurisdiction != "cn":
        return True
    compliance = getattr(cfg, "compliance", None)
    return bool(compliance is not None and compliance.public_endpoint)


def router_args(cfg: StackConfig, cluster: ClusterResult, traffic: TrafficConfig, releases: Iterable[str]) -> TrafficRouterArgs:
    """Every release of the stack is a backend; those not in releaseWeights get weight 0."""
    return TrafficRouterArgs(
        stack=cfg.stack,
        cloud=cfg.cloud,
        jurisdiction=cfg.jurisdiction,
        release_weights={name: traffic.weight_of(name) for name in sorted(releases)},
        provider=cluster.provider,
        registry_url=cluster.registry_url,
        tags=cfg.tags,
        public=endpoint_is_public(cfg),
        route_backend=moderation_route_backend(cfg),
    )


def endpoint_args(cfg: StackConfig, traffic: TrafficConfig, address: pulumi.Input[str]) -> WeightedEndpointArgs:
    return WeightedEndpointArgs(
        stack=cfg.stack,
        cloud=cfg.cloud,
        hostname=traffic.hostname,
        dns_zone=traffic.dns_zone,
        weight=traffic.stack_weight,
        address=address,
    )


def build_traffic(
    cfg: StackConfig,
    cluster: ClusterResult,
    traffic: TrafficConfig,
    releases: Iterable[str],
    opts: pulumi.ResourceOptions | None = None,
    crds: Sequence[pulumi.Resource] = (),
) -> tuple[TrafficRouter, WeightedEndpoint | None]:
    """The router (after the model servers: pass them in `opts.depends_on`), the DNS record, the output.

    A VPC-only gateway (a China stack without a declared public endpoint) gets no
    public DNS record: a public name must never resolve to a private address.
    """
    args = dataclasses.replace(router_args(cfg, cluster, traffic, releases), crds=tuple(crds))
    router = TrafficRouter(cfg.stack, args, opts)
    endpoint = WeightedEndpoint(cfg.stack, endpoint_args(cfg, traffic, router.address)) if args.public else None
    pulumi.export(OUTPUT_GATEWAY_ADDRESS, router.address)
    return router, endpoint
