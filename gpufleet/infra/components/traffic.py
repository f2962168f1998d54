"""Traffic shifting: weights between releases (Gateway API) and between stacks (weighted DNS).

`TrafficRouter` (`gpufleet:k8s:TrafficRouter`) installs Envoy Gateway with Helm
and routes the stack's public load balancer to the releases' Services through
one HTTPRoute: a default rule with weighted backendRefs, plus per-release
rules (header `x-gpufleet-release: <name>`, or path prefix `/release/<name>`)
that reach one release directly, so the load-test gate can measure a candidate
at 0% share. Release Services live in their own namespaces, so each release
namespace gets a ReferenceGrant for the route.

`WeightedEndpoint` (`gpufleet:dns:WeightedEndpoint`) gives the stack one weighted
record under the public hostname: Route 53 (set identifier = stack) on AWS,
Alibaba Cloud DNS on Alibaba Cloud, where the weight is applied through the
Alidns API because the provider's `AlidnsRecord` has no weight field.

Everything that decides a value is a pure function here, testable without
Pulumi; the components only register what those functions return, always
through the stack's explicit Kubernetes provider.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import ipaddress
import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

import pulumi
import pulumi.dynamic
import pulumi_kubernetes as k8s

from gpufleet.infra.components.base import ClusterResult
from gpufleet.core.config import StackConfig
from gpufleet.core.manifests import PORT, mirror_reference
from gpufleet.core.scheduling import release_namespace
from gpufleet.core.traffic_config import TrafficConfig

# ---------------------------------------------------------------- fixed names

# The model-server NetworkPolicies admit clients from this namespace (see
# ReleaseRenderParams.client_namespaces); the Envoy proxies run here.
GATEWAY_NAMESPACE = "gateway"
GATEWAY_NAME = "gpufleet"
GATEWAY_CLASS = "gpufleet"
ENVOY_PROXY_NAME = "gpufleet"
ROUTE_NAME = "llm"
LISTENER_NAME = "http"
LISTENER_PORT = 80
# EnvoyProxy pins the load balancer Service's name so the program can read its address.
GATEWAY_SERVICE_NAME = "gpufleet-gateway"
CONTROLLER_NAME = "gateway.envoyproxy.io/gatewayclass-controller"
RELEASE_HEADER = "x-gpufleet-release"
RELEASE_PATH_PREFIX = "/release/"
# Long generations stream for minutes; Envoy's default route timeout (15 s) would cut them.
REQUEST_TIMEOUT = "600s"
DNS_TTL_SECONDS = 60
ALIDNS_TTL_SECONDS = 600  # the free Alibaba Cloud DNS edition allows no less
# Stack output names the `gpufleet promote` command reads.
OUTPUT_GATEWAY_ADDRESS = "gatewayAddress"

# Envoy Gateway v1.7 supports Kubernetes 1.32-1.35 (gateway.envoyproxy.io compatibility
# matrix) and bundles the Gateway API v1.4 CRDs. China stacks pull the chart and
# the three images from their own ACR (mirror them with `crane copy`, see docs/promote.md).
ENVOY_GATEWAY_VERSION = "v1.7.0"
ENVOY_GATEWAY_CHART = "oci://docker.io/envoyproxy/gateway-helm"
ENVOY_GATEWAY_IMAGE = f"docker.io/envoyproxy/gateway:{ENVOY_GATEWAY_VERSION}"
ENVOY_PROXY_IMAGE = "docker.io/envoyproxy/envoy:distroless-v1.37.0"
ENVOY_RATELIMIT_IMAGE = "docker.io/envoyproxy/ratelimit:3fb70258"
GATEWAY_API = "gateway.networking.k8s.io"


# ---------------------------------------------------------------- releases as backends


@dataclass(frozen=True)
class Backend:
    """Where one release's Service lives (the ModelServer component's naming)."""

    release: str
    namespace: str
    service: str
    port: int = PORT


def backend_for(release: str) -> Backend:
    return Backend(release, release_namespace(release), f"vllm-{release}")


def release_path(release: str) -> str:
    return f"{RELEASE_PATH_PREFIX}{release}"


def _backend_ref(backend: Backend, weight: int) -> dict[str, Any]:
    return {
        "group": "",
        "kind": "Service",
        "name": backend.service,
        "namespace": backend.namespace,
        "port": backend.port,
        "weight": weight,
    }


def httproute_spec(weights: Mapping[str, int]) -> dict[str, Any]:
    """Default rule split by `weights`; one header rule and one path rule per release.

    Gateway API precedence: a rule with a header match beats the plain `/` rule,
    and the longer path prefix beats `/`, so the direct rules always win.
    """
    if sum(weights.values()) <= 0:
        raise ValueError(f"at least one release needs a weight above 0; got {dict(weights)}")
    releases = sorted(weights)
    timeouts = {"request": REQUEST_TIMEOUT}
    rules: list[dict[str, Any]] = []
    for release in releases:
        backend = backend_for(release)
        rules.append({
            "matches": [{"headers": [{"type": "Exact", "name": RELEASE_HEADER, "value": release}]}],
            "backendRefs": [_backend_ref(backend, 1)],
            "timeouts": timeouts,
        })
        rules.append({
            "matches": [{"path": {"type": "PathPrefix", "value": release_path(release)}}],
            "filters": [{
                "type": "URLRewrite",
                "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
            }],
            "backendRefs": [_backend_ref(backend, 1)],
            "timeouts": timeouts,
        })
    rules.append({
        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
        "backendRefs": [_backend_ref(backend_for(r), weights[r]) for r in releases],
        "timeouts": timeouts,
    })
    return {
        # No hostnames: the gate reaches this stack's own load balancer by address,
        # while clients come through the shared weighted name.
        "parentRefs": [{
            "group": GATEWAY_API, "kind": "Gateway", "name": GATEWAY_NAME,
            "namespace": GATEWAY_NAMESPACE, "sectionName": LISTENER_NAME,
        }],
        "rules": rules,
    }


def reference_grant_spec(release: str) -> dict[str, Any]:
    """Lets the HTTPRoute in the gateway namespace use this release's Service, and nothing else."""
    backend = backend_for(release)
    return {
        "from": [{"group": GATEWAY_API, "kind": "HTTPRoute", "namespace": GATEWAY_NAMESPACE}],
        "to": [{"group": "", "kind": "Service", "name": backend.service}],
    }


# ---------------------------------------------------------------- gateway controller


def tag_string(tags: Mapping[str, str]) -> str:
    """`k1=v1,k2=v2`, the form both clouds' load-balancer tag annotations take."""
    return ",".join(f"{k}={v}" for k, v in sorted(tags.items()))


def load_balancer_annotations(cloud: str, stack: str, tags: Mapping[str, str], *, public: bool = True) -> dict[str, str]:
    """Service annotations for the L4 load balancer in front of Envoy (internet-facing or VPC-only).

    AWS: an NLB from the cluster's built-in service controller (no AWS Load
    Balancer Controller needed). Alibaba Cloud: a pay-by-CLCU CLB from ACK's
    cloud controller manager (pay-by-specification CLBs are no longer sold).
    """
    if cloud == "aws":
        annotations = {
            "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
            "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true",
            "service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags": tag_string(tags),
        }
        if not public:
            annotations["service.beta.kubernetes.io/aws-load-balancer-internal"] = "true"
        return annotations
    if cloud == "alicloud":
        return {
            "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type": "internet" if public else "intranet",
            "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-instance-charge-type": "PayByCLCU",
            "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-name": f"gpufleet-{stack}-gateway",
            "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-additional-resource-tags": tag_string(tags),
        }
    raise ValueError(f"unknown cloud {cloud!r} (allowed: aws, alicloud)")


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


def lb_address(status: Mapping[str, Any] | None) -> str | None:
    """The first load-balancer hostname (AWS NLB) or IP (Alibaba CLB) of a Service status."""
    ingress = ((status or {}).get("loadBalancer") or {}).get("ingress") or []
    for entry in ingress:
        address = entry.get("hostname") or entry.get("ip")
        if address:
            return str(address)
    return None


# ---------------------------------------------------------------- DNS


def record_type(address: str) -> Literal["A", "AAAA", "CNAME"]:
    """A for an IPv4 address, AAAA for IPv6, CNAME for a load balancer's DNS name."""
    try:
        return "A" if ipaddress.ip_address(address).version == 4 else "AAAA"
    except ValueError:
        return "CNAME"


def relative_name(hostname: str, zone: str) -> str:
    """'assistant.cn' for hostname 'assistant.cn.example.com' in zone 'example.com'."""
    suffix = "." + zone
    if not hostname.endswith(suffix) or hostname == zone:
        raise ValueError(f"{hostname!r} is not a name inside zone {zone!r}")
    return hostname[: -len(suffix)]


# ---------------------------------------------------------------- Alibaba Cloud DNS weights

ALIDNS_ENDPOINT = "https://alidns.aliyuncs.com/"
ALIDNS_VERSION = "2015-01-09"
ALIDNS_MIN_WEIGHT = 1  # UpdateDNSSLBWeight takes 1-100; weight 0 pauses the record instead


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as Alibaba Cloud's RPC signature wants it ('~' kept, space as %20)."""
    return urllib.parse.quote(value, safe="-_.~")


def rpc_signature(params: Mapping[str, str], secret: str, method: str = "GET") -> str:
    """HMAC-SHA1 signature (RPC signature version 1.0) over the sorted, encoded parameters."""
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))
    string_to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class AlibabaCredentials:
    access_key_id: str
    access_key_secret: str
    security_token: str | None = None


def credentials_from_env(env: Mapping[str, str]) -> AlibabaCredentials:
    """The same variables the alicloud provider reads (new names first)."""
    key_id = env.get("ALIBABA_CLOUD_ACCESS_KEY_ID") or env.get("ALICLOUD_ACCESS_KEY")
    secret = env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET") or env.get("ALICLOUD_SECRET_KEY")
    token = env.get("ALIBABA_CLOUD_SECURITY_TOKEN") or env.get("ALICLOUD_SECURITY_TOKEN")
    if not key_id or not secret:
        raise RuntimeError(
            "Alibaba Cloud DNS weights need credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and "
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET (or ALICLOUD_ACCESS_KEY and ALICLOUD_SECRET_KEY)"
        )
    return AlibabaCredentials(key_id, secret, token or None)


def alidns_request_url(
    action: str, params: Mapping[str, str], creds: AlibabaCredentials, *, nonce: str, timestamp: datetime
) -> str:
    """A signed GET URL for one Alidns API call."""
    query = {
        "Action": action,
        "Version": ALIDNS_VERSION,
        "Format": "JSON",
        "AccessKeyId": creds.access_key_id,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": nonce,
        "Timestamp": timestamp.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **params,
    }
    if creds.security_token:
        query["SecurityToken"] = creds.security_token
    query["Signature"] = rpc_signature(query, creds.access_key_secret)
    return ALIDNS_ENDPOINT + "?" + "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in query.items())


def weight_calls(domain: str, sub_domain: str, record_id: str, weight: int) -> list[tuple[str, dict[str, str]]]:
    """Turn weighted round robin on for the name, then set this record's weight."""
    if not ALIDNS_MIN_WEIGHT <= weight <= 100:
        raise ValueError(f"Alibaba Cloud DNS weights are 1-100 (pause the record for 0); got {weight}")
    return [
        ("SetDNSSLBStatus", {"DomainName": domain, "SubDomain": sub_domain, "Open": "true"}),
        ("UpdateDNSSLBWeight", {"RecordId": record_id, "Weight": str(weight)}),
    ]


def _call_alidns(action: str, params: Mapping[str, str]) -> dict[str, Any]:
    creds = credentials_from_env(os.environ)
    url = alidns_request_url(action, params, creds, nonce=str(uuid.uuid4()), timestamp=datetime.now(timezone.utc))
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - fixed https endpoint
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        body = exc.read().decode(errors="replace")
        raise RuntimeError(f"Alidns {action} failed ({exc.code}): {body}") from None


class _AlidnsWeightProvider(pulumi.dynamic.ResourceProvider):
    """Applies a record's weight with SetDNSSLBStatus + UpdateDNSSLBWeight (both idempotent)."""

    def _apply(self, props: dict[str, Any]) -> None:
        for action, params in weight_calls(props["domain_name"], props["sub_domain"], props["record_id"],
                                           int(props["weight"])):
            _call_alidns(action, params)

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        self._apply(props)
        return pulumi.dynamic.CreateResult(id_=str(props["record_id"]), outs=props)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        self._apply(news)
        return pulumi.dynamic.UpdateResult(outs=news)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to undo: the weight goes with the record it belongs to."""


class AlidnsRecordWeight(pulumi.dynamic.Resource):
    """The weight of one Alibaba Cloud DNS record (not exposed by alicloud.dns.AlidnsRecord)."""

    weight: pulumi.Output[int]

    def __init__(
        self,
        name: str,
        *,
        domain_name: pulumi.Input[str],
        sub_domain: pulumi.Input[str],
        record_id: pulumi.Input[str],
        weight: pulumi.Input[int],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            _AlidnsWeightProvider(),
            name,
            {"domain_name": domain_name, "sub_domain": sub_domain, "record_id": record_id, "weight": weight},
            opts,
        )


# ---------------------------------------------------------------- components


@dataclass(frozen=True)
class TrafficRouterArgs:
    """What the router needs; `release_weights` lists every release the route serves (0 allowed)."""

    stack: str
    cloud: Literal["aws", "alicloud"]
    jurisdiction: Literal["cn", "global"]
    release_weights: Mapping[str, int]
    provider: k8s.Provider
    registry_url: pulumi.Input[str]
    tags: Mapping[str, str] = field(default_factory=dict)
    # False: the load balancer is reachable only inside the VPC (see endpoint_is_public).
    public: bool = True
    # The pinned Gateway API CRDs (gateway_crds.py): the controller and every custom resource wait for them.
    crds: Sequence[pulumi.Resource] = ()


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
        spec = httproute_spec(args.release_weights)  # fails before anything is registered
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
                          "namespace": backend_for(release).namespace, "labels": labels},
                spec=reference_grant_spec(release),
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
    cloud: Literal["aws", "alicloud"]
    hostname: str
    dns_zone: str
    weight: int
    # The stack's load balancer: an NLB DNS name on AWS, a CLB IP on Alibaba Cloud.
    address: pulumi.Input[str]


class WeightedEndpoint(pulumi.ComponentResource):
    """This stack's weighted record under the shared public hostname."""

    record_type: pulumi.Output[str]

    def __init__(self, name: str, args: WeightedEndpointArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:dns:WeightedEndpoint", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        address = pulumi.Output.from_input(args.address)
        self.record_type = address.apply(record_type)
        if args.cloud == "aws":
            import pulumi_aws as aws

            zone = aws.route53.get_zone_output(name=args.dns_zone, private_zone=False, opts=pulumi.InvokeOutputOptions(parent=self))
            self.record = aws.route53.Record(
                f"{name}-record",
                zone_id=zone.zone_id,
                name=args.hostname,
                type=self.record_type,
                ttl=DNS_TTL_SECONDS,
                records=[address],
                set_identifier=args.stack,
                weighted_routing_policies=[aws.route53.RecordWeightedRoutingPolicyArgs(weight=args.weight)],
                opts=child,
            )
        elif args.cloud == "alicloud":
            import pulumi_alicloud as alicloud

            sub_domain = relative_name(args.hostname, args.dns_zone)
            self.record = alicloud.dns.AlidnsRecord(
                f"{name}-record",
                domain_name=args.dns_zone,
                rr=sub_domain,
                type=self.record_type,
                value=address,
                ttl=ALIDNS_TTL_SECONDS,
                line="default",
                # Weight 0 pauses the record: a paused record is never answered.
                status="ENABLE" if args.weight > 0 else "DISABLE",
                remark=f"gpufleet stack {args.stack}",
                opts=child,
            )
            if args.weight > 0:
                self.weight = AlidnsRecordWeight(
                    f"{name}-weight",
                    domain_name=args.dns_zone,
                    sub_domain=args.hostname,
                    record_id=self.record.id,
                    weight=args.weight,
                    opts=child,
                )
        else:
            raise ValueError(f"unknown cloud {args.cloud!r} (allowed: aws, alicloud)")
        self.register_outputs({"record_type": self.record_type})


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
