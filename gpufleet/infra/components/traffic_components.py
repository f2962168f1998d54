"""The traffic components: `TrafficRouter` (Envoy Gateway, the weighted HTTPRoute) and
`WeightedEndpoint` (this stack's record under the shared public hostname).

`TrafficRouter` (`gpufleet:k8s:TrafficRouter`) installs Envoy Gateway with Helm and routes the
stack's public load balancer to the releases' Services through one HTTPRoute
(traffic_routes), in a default-deny namespace (traffic_netpol), with the gateway objects of
traffic_gateway. `WeightedEndpoint` (`gpufleet:dns:WeightedEndpoint`) writes the record with
the DNS service of the stack's cloud (gpufleet.core.clouds: Route 53 or Alibaba Cloud DNS).
Everything here goes through the stack's explicit Kubernetes provider; children have parent=self.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import pulumi
import pulumi_kubernetes as k8s

from gpufleet.core import clouds
from gpufleet.core.traffic_names import (
    ENVOY_PROXY_NAME, GATEWAY_API, GATEWAY_CLASS, GATEWAY_NAME, GATEWAY_NAMESPACE, GATEWAY_SERVICE_NAME, ROUTE_NAME,
    Backend, backend_for,
)
from gpufleet.infra.components.traffic_dns import (
    ALIDNS_TTL_SECONDS, DNS_TTL_SECONDS, AlidnsRecordWeight, record_type, relative_name,
)
from gpufleet.infra.components.traffic_gateway import (
    ENVOY_GATEWAY_VERSION, envoy_proxy_spec, gateway_class_spec, gateway_images, gateway_spec, helm_values,
    lb_address, load_balancer_annotations,
)
from gpufleet.infra.components.traffic_netpol import gateway_network_policies
from gpufleet.infra.components.traffic_routes import httproute_spec, reference_grant_spec


@dataclass(frozen=True)
class TrafficRouterArgs:
    """What the router needs; `release_weights` lists every release the route serves (0 allowed)."""

    stack: str
    cloud: Literal[clouds.NAMES]  # type: ignore[valid-type]
    jurisdiction: Literal["cn", "global"]
    release_weights: Mapping[str, int]
    provider: k8s.Provider
    registry_url: pulumi.Input[str]
    tags: Mapping[str, str] = field(default_factory=dict)
    # False: the load balancer is reachable only inside the VPC (see endpoint_is_public).
    public: bool = True
    # The pinned Gateway API CRDs (gateway_crds.py): the controller and every custom resource wait for them.
    crds: Sequence[pulumi.Resource] = ()
    # Which Service the route sends a release's traffic to (its moderation proxy's, when the stage runs).
    route_backend: Callable[[str], Backend] = backend_for


def _unknown_output() -> pulumi.Output[str]:
    """An output whose value is known only after apply (what a real preview shows)."""
    loop = asyncio.get_event_loop()
    value: asyncio.Future[Any] = loop.create_future()
    value.set_result(None)
    known: asyncio.Future[bool] = loop.create_future()
    known.set_result(False)
    return pulumi.Output(set(), value, known)


def _status_mapping(status: Any) -> dict[str, Any] | None:
    """The typed ServiceStatus output as the plain camelCase shape `lb_address` reads."""
    if status is None:
        return None
    ingress = getattr(getattr(status, "load_balancer", None), "ingress", None) or []
    return {"loadBalancer": {"ingress": [{"hostname": i.hostname, "ip": i.ip} for i in ingress]}}


def _address_of(status: Any) -> Any:
    address = lb_address(_status_mapping(status))
    if address:
        return address
    if pulumi.runtime.is_dry_run():
        return _unknown_output()
    raise RuntimeError(
        f"Service {GATEWAY_NAMESPACE}/{GATEWAY_SERVICE_NAME} has no load-balancer address; "
        "check the cloud controller's events on it (kubectl describe service)"
    )


class TrafficRouter(pulumi.ComponentResource):
    """Envoy Gateway (Helm) in its own default-deny namespace, its EnvoyProxy/GatewayClass/Gateway,
    the weighted HTTPRoute and the ReferenceGrants."""

    address: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(self, name: str, args: TrafficRouterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not isinstance(args.provider, k8s.Provider):
            raise TypeError("an explicit pulumi_kubernetes.Provider is required (no ambient kubeconfig)")
        spec = httproute_spec(args.release_weights, args.route_backend)  # fails before anything is registered
        super().__init__("gpufleet:k8s:TrafficRouter", name, None, opts)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.provider)
        labels = {"app.kubernetes.io/part-of": "gpufleet", "gpufleet.io/stack": args.stack}
        images = pulumi.Output.from_input(args.registry_url).apply(
            lambda registry: gateway_images(args.jurisdiction, registry)
        )

        self.namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata={"name": GATEWAY_NAMESPACE, "labels": {
                **labels,
                # Envoy and its controller run as non-root but do not all declare the
                # restricted profile's fields; enforce baseline, warn on restricted.
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
            }},
            opts=k8s_opts,
        )
        after_ns = pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=[self.namespace]))
        self.network_policies = [
            k8s.networking.v1.NetworkPolicy(
                f"{name}-netpol-{policy['metadata']['name']}",
                metadata={**policy["metadata"], "labels": labels},
                spec=policy["spec"],
                opts=after_ns,
            )
            for policy in gateway_network_policies(args.release_weights)
        ]
        self.controller = k8s.helm.v3.Release(
            f"{name}-envoy-gateway",
            name="eg",
            chart=images.apply(lambda i: i.chart),
            version=ENVOY_GATEWAY_VERSION,
            namespace=GATEWAY_NAMESPACE,
            create_namespace=False,
            values=images.apply(helm_values),
            atomic=True,
            cleanup_on_fail=True,
            timeout=600,
            opts=pulumi.ResourceOptions.merge(
                k8s_opts, pulumi.ResourceOptions(depends_on=[self.namespace, *self.network_policies, *args.crds])
            ),
        )
        after_crds = pulumi.ResourceOptions.merge(
            k8s_opts, pulumi.ResourceOptions(depends_on=[self.controller, *args.crds]))
        annotations = load_balancer_annotations(args.cloud, args.stack, args.tags, public=args.public)
        self.envoy_proxy = k8s.apiextensions.CustomResource(
            f"{name}-envoyproxy",
            api_version="gateway.envoyproxy.io/v1alpha1",
            kind="EnvoyProxy",
            metadata={"name": ENVOY_PROXY_NAME, "namespace": GATEWAY_NAMESPACE, "labels": labels},
            spec=images.apply(lambda i: envoy_proxy_spec(i.proxy, annotations)),
            opts=after_crds,
        )
        self.gateway_class = k8s.apiextensions.CustomResource(
            f"{name}-gatewayclass",
            api_version=f"{GATEWAY_API}/v1",
            kind="GatewayClass",
            metadata={"name": GATEWAY_CLASS, "labels": labels},
            spec=gateway_class_spec(),
            opts=pulumi.ResourceOptions.merge(after_crds, pulumi.ResourceOptions(depends_on=[self.envoy_proxy])),
        )
        self.gateway = k8s.apiextensions.CustomResource(
            f"{name}-gateway",
            api_version=f"{GATEWAY_API}/v1",
            kind="Gateway",
            metadata={
                "name": GATEWAY_NAME,
                "namespace": GATEWAY_NAMESPACE,
                "labels": labels,
                # Done only once the cloud gave the load balancer an address.
                "annotations": {"pulumi.com/waitFor": "jsonpath={.status.addresses[0].value}"},
            },
            spec=gateway_spec(),
            opts=pulumi.ResourceOptions.merge(
                after_crds,
                pulumi.ResourceOptions(depends_on=[self.gateway_class], custom_timeouts=pulumi.CustomTimeouts(create="15m")),
            ),
        )
        self.reference_grants = [
            k8s.apiextensions.CustomResource(
                f"{name}-referencegrant-{release}",
                api_version=f"{GATEWAY_API}/v1beta1",
                kind="ReferenceGrant",
                metadata={"name": f"{ROUTE_NAME}-from-{GATEWAY_NAMESPACE}",
                          "namespace": args.route_backend(release).namespace, "labels": labels},
                spec=reference_grant_spec(release, args.route_backend),
                opts=after_crds,
            )
            for release in sorted(args.release_weights)
        ]
        self.route = k8s.apiextensions.CustomResource(
            f"{name}-httproute",
            api_version=f"{GATEWAY_API}/v1",
            kind="HTTPRoute",
            metadata={"name": ROUTE_NAME, "namespace": GATEWAY_NAMESPACE, "labels": labels},
            spec=spec,
            opts=pulumi.ResourceOptions.merge(
                after_crds, pulumi.ResourceOptions(depends_on=[self.gateway, *self.reference_grants])
            ),
        )
        # The id only resolves after the Gateway is programmed, so the read happens after it.
        service_id = self.gateway.metadata.apply(lambda _: f"{GATEWAY_NAMESPACE}/{GATEWAY_SERVICE_NAME}")
        self.service = k8s.core.v1.Service.get(f"{name}-lb", service_id, opts=k8s_opts)
        self.address = self.service.status.apply(_address_of)
        self.url = pulumi.Output.concat("http://", self.address)
        self.register_outputs({"address": self.address, "url": self.url})


@dataclass(frozen=True)
class WeightedEndpointArgs:
    stack: str
    cloud: Literal[clouds.NAMES]  # type: ignore[valid-type]
    hostname: str
    dns_zone: str
    weight: int
    # The stack's load balancer: an NLB DNS name on AWS, a CLB IP on Alibaba Cloud.
    address: pulumi.Input[str]


class WeightedEndpoint(pulumi.ComponentResource):
    """This stack's weighted record under the shared public hostname."""

    record_type: pulumi.Output[str]

    def __init__(self, name: str, args: WeightedEndpointArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        build = DNS_RECORDS.get(clouds.get(args.cloud).dns_service)  # ValueError names the known clouds
        if build is None:
            raise ValueError(f"no weighted DNS record for cloud {args.cloud!r}")
        super().__init__("gpufleet:dns:WeightedEndpoint", name, None, opts)
        address = pulumi.Output.from_input(args.address)
        self.record_type = address.apply(record_type)
        build(self, name, args, address)
        self.register_outputs({"record_type": self.record_type})


def _route53_record(endpoint: WeightedEndpoint, name: str, args: WeightedEndpointArgs, address: pulumi.Output[str]) -> None:
    """Route 53: one record of the weighted set, identified by the stack."""
    import pulumi_aws as aws

    zone = aws.route53.get_zone_output(name=args.dns_zone, private_zone=False,
                                       opts=pulumi.InvokeOutputOptions(parent=endpoint))
    endpoint.record = aws.route53.Record(
        f"{name}-record",
        zone_id=zone.zone_id,
        name=args.hostname,
        type=endpoint.record_type,
        ttl=DNS_TTL_SECONDS,
        records=[address],
        set_identifier=args.stack,
        weighted_routing_policies=[aws.route53.RecordWeightedRoutingPolicyArgs(weight=args.weight)],
        opts=pulumi.ResourceOptions(parent=endpoint),
    )


def _alidns_record(endpoint: WeightedEndpoint, name: str, args: WeightedEndpointArgs, address: pulumi.Output[str]) -> None:
    """Alibaba Cloud DNS: the record, then its weight through the Alidns API (weight 0 pauses it)."""
    import pulumi_alicloud as alicloud

    child = pulumi.ResourceOptions(parent=endpoint)
    endpoint.record = alicloud.dns.AlidnsRecord(
        f"{name}-record",
        domain_name=args.dns_zone,
        rr=relative_name(args.hostname, args.dns_zone),
        type=endpoint.record_type,
        value=address,
        ttl=ALIDNS_TTL_SECONDS,
        line="default",
        # Weight 0 pauses the record: a paused record is never answered.
        status="ENABLE" if args.weight > 0 else "DISABLE",
        remark=f"gpufleet stack {args.stack}",
        opts=child,
    )
    if args.weight > 0:
        endpoint.weight = AlidnsRecordWeight(
            f"{name}-weight",
            domain_name=args.dns_zone,
            sub_domain=args.hostname,
            record_id=endpoint.record.id,
            weight=args.weight,
            profile=pulumi.Config("alicloud").get("profile"),
            opts=child,
        )


# The DNS service of each cloud (gpufleet.core.clouds: Cloud.dns_service) -> how its record is built.
DNS_RECORDS: dict[str, Callable[[WeightedEndpoint, str, WeightedEndpointArgs, pulumi.Output[str]], None]] = {
    "route53": _route53_record,
    "alidns": _alidns_record,
}
