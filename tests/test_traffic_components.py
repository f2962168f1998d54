"""TrafficRouter and WeightedEndpoint under the Pulumi mock engine, and the pure builders behind them."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Callable

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi.output import Unknown

from gpufleet.infra.components import traffic as t
from gpufleet.core.config import load_stack
from gpufleet.core.manifests import render_release
from gpufleet.core.traffic_config import parse_traffic
from gpufleet.core.workloads import release_params

ACR = "gpufleet-prod-cn-hangzhou-acr-registry-vpc.cn-hangzhou.cr.aliyuncs.com/gpufleet"
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com/gpufleet/prod-us-east-1"
NLB = "k8s-gateway-gpufleet-0123456789.elb.us-east-1.amazonaws.com"
CLB_IP = "47.96.10.20"
ZONE_ID = "Z04123456789EXAMPLE"


@dataclass
class Registration:
    type: str
    name: str
    inputs: dict[str, Any]
    provider: str
    resource_id: str


@dataclass
class TrafficMocks(pulumi.runtime.Mocks):
    """Echo inputs; answer the gateway Service read with a load-balancer status; answer Route 53 zone lookups."""

    lb_ingress: list[dict[str, str]] = field(default_factory=list)
    registrations: list[Registration] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.registrations.append(
            Registration(args.typ, args.name, dict(args.inputs), args.provider or "", args.resource_id or "")
        )
        if args.typ == "kubernetes:core/v1:Service" and args.resource_id:
            namespace, name = args.resource_id.split("/")
            status = {"loadBalancer": {"ingress": self.lb_ingress}} if self.lb_ingress else {}
            return args.resource_id, {"metadata": {"name": name, "namespace": namespace}, "status": status}
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        self.calls.append((args.token, dict(args.args)))
        if args.token == "aws:route53/getZone:getZone":
            return {"zoneId": ZONE_ID, "name": args.args["name"], "id": ZONE_ID}
        raise LookupError(f"no mock for {args.token}")

    def of_type(self, typ: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == typ]

    def one(self, typ: str) -> Registration:
        found = self.of_type(typ)
        assert len(found) == 1, [r.name for r in found]
        return found[0]


def run_program(mocks: TrafficMocks, program: Callable[[], pulumi.Output[Any] | None], *, preview: bool = False,
                expect_error: bool = False) -> Any:
    """Run `program` under the mock engine; returns the value its Output resolves to."""
    loop = asyncio.new_event_loop()
    if expect_error:  # the failed apply's sibling tasks would be reported again when the loop is collected
        loop.set_exception_handler(lambda _loop, _context: None)
    asyncio.set_event_loop(loop)
    pulumi.runtime.set_mocks(mocks, project="gpufleet", stack="traffic-test", preview=preview)
    seen: dict[str, Any] = {}

    @pulumi.runtime.test
    def body() -> pulumi.Output[Any] | None:
        out = program()
        return out.apply(lambda v: seen.setdefault("value", v)) if out is not None else None

    body()
    return seen.get("value")


def provider() -> k8s.Provider:
    return k8s.Provider("cluster", kubeconfig="{}")


def router_args(cloud: str = "aws", jurisdiction: str = "global", registry: str = ECR,
                weights: dict[str, int] | None = None, prov: k8s.Provider | None = None) -> t.TrafficRouterArgs:
    return t.TrafficRouterArgs(
        stack="prod-us-east-1" if cloud == "aws" else "prod-cn-hangzhou",
        cloud=cloud, jurisdiction=jurisdiction,
        release_weights=weights if weights is not None else {"blue": 90, "green": 10},
        provider=prov or provider(),
        registry_url=registry,
        tags={"project": "gpufleet", "team": "assistant-platform"},
    )


# ---------------------------------------------------------------- TrafficRouter


def test_router_routes_weighted_backends_across_namespaces_with_reference_grants() -> None:
    mocks = TrafficMocks(lb_ingress=[{"hostname": NLB}])
    urns: dict[str, str] = {}

    def program() -> pulumi.Output[Any]:
        router = t.TrafficRouter("prod-us-east-1", router_args())
        return pulumi.Output.all(router.address, router.url, router.route.urn, router.gateway.urn).apply(
            lambda v: urns.update(route=v[2], gateway=v[3]) or v[:2]
        )

    address, url = run_program(mocks, program)
    assert (address, url) == (NLB, f"http://{NLB}")

    route = mocks.one("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute").inputs
    assert route["metadata"]["namespace"] == "gateway"
    rules = route["spec"]["rules"]
    default = rules[-1]
    assert default["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert [(b["namespace"], b["name"], b["port"], b["weight"]) for b in default["backendRefs"]] == [
        ("llm-blue", "vllm-blue", 8000, 90), ("llm-green", "vllm-green", 8000, 10),
    ]
    by_header = {r["matches"][0]["headers"][0]["value"]: r["backendRefs"][0]["name"]
                 for r in rules if "headers" in r["matches"][0]}
    assert by_header == {"blue": "vllm-blue", "green": "vllm-green"}
    assert all(r["matches"][0]["headers"][0]["name"] == "x-gpufleet-release" for r in rules if "headers" in r["matches"][0])
    by_path = {r["matches"][0]["path"]["value"]: (r["backendRefs"][0]["name"], r["filters"][0]["urlRewrite"]["path"])
               for r in rules[:-1] if "path" in r["matches"][0]}
    assert by_path == {
        "/release/blue": ("vllm-blue", {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}),
        "/release/green": ("vllm-green", {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}),
    }
    assert all(r["timeouts"] == {"request": "600s"} for r in rules)
    assert route["spec"]["parentRefs"][0]["name"] == "gpufleet"

    grants = {r.inputs["metadata"]["namespace"]: r.inputs["spec"]
              for r in mocks.of_type("kubernetes:gateway.networking.k8s.io/v1beta1:ReferenceGrant")}
    assert grants == {
        ns: {"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "gateway"}],
             "to": [{"group": "", "kind": "Service", "name": svc}]}
        for ns, svc in (("llm-blue", "vllm-blue"), ("llm-green", "vllm-green"))
    }
    # Everything is a child of the component and goes through the explicit provider.
    assert "gpufleet:k8s:TrafficRouter$kubernetes:gateway.networking.k8s.io/v1:HTTPRoute" in urns["route"]
    k8s_regs = [r for r in mocks.registrations if r.type.startswith("kubernetes:")]
    assert sorted(r.type.split(":")[-1] for r in k8s_regs) == [
        "EnvoyProxy", "Gateway", "GatewayClass", "HTTPRoute", "Namespace", *["NetworkPolicy"] * 6,
        "ReferenceGrant", "ReferenceGrant", "Release", "Service"]
    assert all("pulumi:providers:kubernetes::cluster::" in r.provider for r in k8s_regs)


def test_aws_router_installs_envoy_gateway_from_upstream_behind_an_nlb() -> None:
    mocks = TrafficMocks(lb_ingress=[{"hostname": NLB}])
    run_program(mocks, lambda: t.TrafficRouter("prod-us-east-1", router_args()).address)

    helm = mocks.one("kubernetes:helm.sh/v3:Release").inputs
    assert (helm["chart"], helm["version"], helm["namespace"]) == (
        "oci://docker.io/envoyproxy/gateway-helm", "v1.7.0", "gateway")
    assert helm["values"]["global"]["images"]["envoyGateway"]["image"] == "docker.io/envoyproxy/gateway:v1.7.0"
    proxy = mocks.one("kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy").inputs["spec"]["provider"]["kubernetes"]
    assert proxy["envoyDeployment"]["container"]["image"] == "docker.io/envoyproxy/envoy:distroless-v1.37.0"
    assert proxy["envoyService"]["name"] == "gpufleet-gateway"
    assert proxy["envoyService"]["annotations"] == {
        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
        "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true",
        "service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags": "project=gpufleet,team=assistant-platform",
    }
    gateway = mocks.one("kubernetes:gateway.networking.k8s.io/v1:Gateway").inputs
    assert gateway["metadata"]["annotations"] == {"pulumi.com/waitFor": "jsonpath={.status.addresses[0].value}"}
    assert gateway["spec"]["listeners"][0]["port"] == 80
    read = mocks.one("kubernetes:core/v1:Service")
    assert read.resource_id == "gateway/gpufleet-gateway"


def test_china_router_pulls_chart_and_images_from_the_stacks_acr_behind_a_clb() -> None:
    mocks = TrafficMocks(lb_ingress=[{"ip": CLB_IP}])
    address = run_program(mocks, lambda: t.TrafficRouter(
        "prod-cn-hangzhou", router_args("alicloud", "cn", ACR)).address)
    assert address == CLB_IP

    helm = mocks.one("kubernetes:helm.sh/v3:Release").inputs
    assert helm["chart"] == "oci://gpufleet-prod-cn-hangzhou-acr-registry.cn-hangzhou.cr.aliyuncs.com/gpufleet/gateway-helm"
    images = helm["values"]["global"]["images"]
    assert images["envoyGateway"]["image"] == f"{ACR}/gateway:v1.7.0"
    assert images["ratelimit"]["image"] == f"{ACR}/ratelimit:3fb70258"
    proxy = mocks.one("kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy").inputs["spec"]["provider"]["kubernetes"]
    assert proxy["envoyDeployment"]["container"]["image"] == f"{ACR}/envoy:distroless-v1.37.0"
    assert proxy["envoyService"]["annotations"]["service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type"] == "internet"
    assert proxy["envoyService"]["annotations"][
        "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-instance-charge-type"] == "PayByCLCU"
    everything = json.dumps([r.inputs for r in mocks.registrations])
    assert "docker.io" not in everything


def test_router_refuses_an_ambient_provider_and_all_zero_weights() -> None:
    with pytest.raises(TypeError, match="explicit pulumi_kubernetes.Provider"):
        run_program(TrafficMocks(), lambda: t.TrafficRouter("s", router_args(prov="ambient")).address,  # type: ignore[arg-type]
                    expect_error=True)
    with pytest.raises(ValueError, match=r"at least one release needs a weight above 0; got \{'blue': 0\}"):
        run_program(TrafficMocks(), lambda: t.TrafficRouter("s", router_args(weights={"blue": 0})).address,
                    expect_error=True)


def test_address_is_unknown_in_preview_until_the_load_balancer_exists() -> None:
    mocks = TrafficMocks(lb_ingress=[])

    def program() -> None:
        router = t.TrafficRouter("prod-us-east-1", router_args())
        t.WeightedEndpoint("prod-us-east-1", t.WeightedEndpointArgs(
            stack="prod-us-east-1", cloud="aws", hostname="assistant.example.com", dns_zone="example.com",
            weight=100, address=router.address))

    run_program(mocks, program, preview=True)
    record = mocks.one("aws:route53/record:Record").inputs
    assert [type(v) for v in (record["records"][0], record["type"])] == [Unknown, Unknown]
    assert record["setIdentifier"] == "prod-us-east-1"


def test_address_missing_after_apply_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="gateway/gpufleet-gateway has no load-balancer address"):
        run_program(TrafficMocks(lb_ingress=[]), lambda: t.TrafficRouter("s", router_args()).address, expect_error=True)


# ---------------------------------------------------------------- WeightedEndpoint


def test_aws_endpoint_is_a_route53_weighted_record_named_by_the_stack() -> None:
    mocks = TrafficMocks()
    run_program(mocks, lambda: t.WeightedEndpoint("prod-eu-central-1", t.WeightedEndpointArgs(
        stack="prod-eu-central-1", cloud="aws", hostname="assistant.example.com", dns_zone="example.com",
        weight=30, address=NLB)).record_type)
    record = mocks.one("aws:route53/record:Record").inputs
    assert record == {
        "zoneId": ZONE_ID, "name": "assistant.example.com", "type": "CNAME", "ttl": 60, "records": [NLB],
        "setIdentifier": "prod-eu-central-1", "weightedRoutingPolicies": [{"weight": 30}],
    }
    assert mocks.calls == [("aws:route53/getZone:getZone", {"name": "example.com", "privateZone": False})]


def test_alibaba_endpoint_is_an_alidns_record_with_its_weight_applied() -> None:
    mocks = TrafficMocks()
    run_program(mocks, lambda: t.WeightedEndpoint("prod-cn-beijing", t.WeightedEndpointArgs(
        stack="prod-cn-beijing", cloud="alicloud", hostname="assistant.cn.example.com", dns_zone="example.com",
        weight=40, address=CLB_IP)).record_type)
    record = mocks.one("alicloud:dns/alidnsRecord:AlidnsRecord").inputs
    assert record == {
        "domainName": "example.com", "rr": "assistant.cn", "type": "A", "value": CLB_IP, "ttl": 600,
        "line": "default", "status": "ENABLE", "remark": "gpufleet stack prod-cn-beijing",
    }
    weight = mocks.one("pulumi-python:dynamic:Resource")
    assert weight.name == "prod-cn-beijing-weight"
    assert {k: v for k, v in weight.inputs.items() if k != "__provider"} == {
        "domain_name": "example.com", "sub_domain": "assistant.cn.example.com",
        "record_id": "prod-cn-beijing-record-id", "weight": 40,
    }


def test_alibaba_endpoint_at_weight_zero_pauses_the_record() -> None:
    mocks = TrafficMocks()
    run_program(mocks, lambda: t.WeightedEndpoint("prod-cn-beijing", t.WeightedEndpointArgs(
        stack="prod-cn-beijing", cloud="alicloud", hostname="assistant.cn.example.com", dns_zone="example.com",
        weight=0, address=CLB_IP)).record_type)
    assert mocks.one("alicloud:dns/alidnsRecord:AlidnsRecord").inputs["status"] == "DISABLE"
    assert mocks.of_type("pulumi-python:dynamic:Resource") == []


# ---------------------------------------------------------------- program wiring


def test_build_traffic_serves_every_release_and_exports_the_gateway_address() -> None:
    cfg = load_stack("prod-us-east-1")
    traffic = parse_traffic({"hostname": "assistant.example.com", "dnsZone": "example.com", "stackWeight": 60,
                             "releaseWeights": {"blue": 100}})
    mocks = TrafficMocks(lb_ingress=[{"hostname": NLB}])

    def program() -> pulumi.Output[Any]:
        from gpufleet.infra.components.base import ClusterResult

        cluster = ClusterResult(
            cluster_name=pulumi.Output.from_input("eks"), kubeconfig=pulumi.Output.secret("{}"),
            provider=provider(), gpu_node_selector={}, gpu_tolerations=[],
            registry_url=pulumi.Output.from_input(ECR), weights_bucket_url=pulumi.Output.from_input("s3://b"),
            weights_reader_role_arn=pulumi.Output.from_input("arn"), vpc_id=pulumi.Output.from_input("vpc"),
        )
        router, endpoint = t.build_traffic(cfg, cluster, traffic, cfg.releases)
        return router.address

    run_program(mocks, program)
    route = mocks.one("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute").inputs
    assert [(b["name"], b["weight"]) for b in route["spec"]["rules"][-1]["backendRefs"]] == [
        ("vllm-blue", 100), ("vllm-green", 0)]
    record = mocks.one("aws:route53/record:Record").inputs
    assert (record["setIdentifier"], record["weightedRoutingPolicies"], record["records"]) == (
        "prod-us-east-1", [{"weight": 60}], [NLB])


def test_backends_match_what_the_model_server_renders() -> None:
    """The route's Service names, namespaces and port, and the release NetworkPolicy admitting the gateway."""
    cfg = load_stack("prod-us-east-1")
    objects = render_release(release_params(cfg, "green", cfg.releases["green"]))
    service = next(o for o in objects if o["kind"] == "Service")
    backend = t.backend_for("green")
    assert (service["metadata"]["namespace"], service["metadata"]["name"], service["spec"]["ports"][0]["port"]) == (
        backend.namespace, backend.service, backend.port)
    serving = next(o for o in objects if o["kind"] == "NetworkPolicy" and o["metadata"]["name"].endswith("allow-serving"))
    allowed = serving["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchExpressions"][0]["values"]
    assert t.GATEWAY_NAMESPACE in allowed


# ---------------------------------------------------------------- pure helpers


def test_gateway_namespace_is_default_deny_with_only_the_flows_envoy_needs() -> None:
    policies = {p["metadata"]["name"]: p["spec"] for p in t.gateway_network_policies(["green", "blue"])}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    proxy = {"matchLabels": {"app.kubernetes.io/managed-by": "envoy-gateway", "app.kubernetes.io/component": "proxy"}}
    assert policies["proxy-allow-clients"]["podSelector"] == proxy
    assert policies["proxy-allow-clients"]["ingress"][0] == {
        "from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 10080}]}
    backends, controller = policies["proxy-to-backends"]["egress"]
    assert backends == {
        "to": [{"namespaceSelector": {"matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["llm-blue", "llm-green"]}]}}],
        "ports": [{"protocol": "TCP", "port": 8000}]}
    assert controller["ports"] == [{"protocol": "TCP", "port": 18000, "endPort": 18002}]
    assert policies["allow-kube-api"]["egress"] == [{"ports": [{"protocol": "TCP", "port": 443},
                                                               {"protocol": "TCP", "port": 6443}]}]
    assert all(p["metadata"]["namespace"] == "gateway" for p in t.gateway_network_policies(["green"]))


def test_record_type_and_relative_name() -> None:
    assert [t.record_type(a) for a in (CLB_IP, "2001:db8::1", NLB)] == ["A", "AAAA", "CNAME"]
    assert t.relative_name("assistant.cn.example.com", "example.com") == "assistant.cn"
    with pytest.raises(ValueError, match="'example.com' is not a name inside zone 'example.com'"):
        t.relative_name("example.com", "example.com")


def test_lb_address_prefers_the_first_entry_with_a_value() -> None:
    assert t.lb_address({"loadBalancer": {"ingress": [{"hostname": NLB}, {"ip": CLB_IP}]}}) == NLB
    assert t.lb_address({"loadBalancer": {"ingress": [{"ip": CLB_IP}]}}) == CLB_IP
    assert t.lb_address({"loadBalancer": {}}) is None
    assert t.lb_address(None) is None


def test_unknown_cloud_annotations() -> None:
    with pytest.raises(ValueError, match=r"unknown cloud 'gcp' \(allowed: aws, alicloud\)"):
        t.load_balancer_annotations("gcp", "s", {})


def test_weight_calls_turn_on_weighting_then_set_the_weight() -> None:
    assert t.weight_calls("example.com", "assistant.cn.example.com", "42", 40) == [
        ("SetDNSSLBStatus", {"DomainName": "example.com", "SubDomain": "assistant.cn.example.com", "Open": "true"}),
        ("UpdateDNSSLBWeight", {"RecordId": "42", "Weight": "40"}),
    ]
    with pytest.raises(ValueError, match=r"Alibaba Cloud DNS weights are 1-100 \(pause the record for 0\); got 0"):
        t.weight_calls("example.com", "a.example.com", "42", 0)


def test_a_vpc_only_gateway_gets_an_internal_load_balancer() -> None:
    assert t.load_balancer_annotations("alicloud", "prod-cn-hangzhou", {}, public=False)[
        "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type"] == "intranet"
    assert t.load_balancer_annotations("aws", "prod-us-east-1", {}, public=False)[
        "service.beta.kubernetes.io/aws-load-balancer-internal"] == "true"
    assert "service.beta.kubernetes.io/aws-load-balancer-internal" not in t.load_balancer_annotations(
        "aws", "prod-us-east-1", {})


def test_china_endpoints_are_public_only_when_compliance_declares_it() -> None:
    from conftest import edited_stack

    from conftest import DELETE
    undeclared = edited_stack("prod-cn-hangzhou", {"gpufleet:compliance": DELETE})
    assert t.endpoint_is_public(load_stack("prod-us-east-1"))
    assert not t.endpoint_is_public(load_stack("prod-cn-hangzhou", text=undeclared))
    assert t.endpoint_is_public(load_stack("prod-cn-hangzhou"))  # the shipped stack declares its filings


def test_build_traffic_gives_an_undeclared_china_endpoint_no_public_record() -> None:
    from conftest import DELETE, edited_stack
    cfg = load_stack("prod-cn-hangzhou", text=edited_stack("prod-cn-hangzhou", {"gpufleet:compliance": DELETE}))
    traffic = parse_traffic({"hostname": "assistant.cn.example.com", "dnsZone": "example.com", "stackWeight": 50,
                             "releaseWeights": {name: 100 if i == 0 else 0 for i, name in enumerate(sorted(cfg.releases))}})
    mocks = TrafficMocks(lb_ingress=[{"ip": "10.20.3.4"}])

    def program() -> pulumi.Output[Any]:
        from gpufleet.infra.components.base import ClusterResult

        cluster = ClusterResult(
            cluster_name=pulumi.Output.from_input("ack"), kubeconfig=pulumi.Output.secret("{}"),
            provider=provider(), gpu_node_selector={}, gpu_tolerations=[],
            registry_url=pulumi.Output.from_input(ACR), weights_bucket_url=pulumi.Output.from_input("oss://b"),
            weights_reader_role_arn=pulumi.Output.from_input("acs:ram::1:role/r"), vpc_id=pulumi.Output.from_input("vpc"),
        )
        router, endpoint = t.build_traffic(cfg, cluster, traffic, cfg.releases)
        assert endpoint is None
        return router.address

    assert run_program(mocks, program) == "10.20.3.4"
    proxy = mocks.one("kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy").inputs["spec"]["provider"]["kubernetes"]
    assert proxy["envoyService"]["annotations"][
        "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type"] == "intranet"
    assert mocks.of_type("alicloud:dns/alidnsRecord:AlidnsRecord") == []
