"""The deployment graph, checked offline: ordering facts a mock engine cannot otherwise show.

Each resource of `gpufleet preview` carries its phase, parent, provider, explicit
dependsOn and the URNs its inputs came from (gpufleet/preview/graph.py).
"""

from __future__ import annotations

import json
import re

import pytest

from conftest import cached_preview, shipped_stacks
from gpufleet.core.config import load_stack
from gpufleet.infra.components.gateway_crds import crd_kinds
from gpufleet.preview.graph import closure

STACKS = shipped_stacks()
ALI = [s for s in STACKS if load_stack(s).cloud == "alicloud"]
AWS = [s for s in STACKS if load_stack(s).cloud == "aws"]
REPO_TYPES = ("aws:ecr/repository:Repository", "alicloud:cs/registryEnterpriseRepo:RegistryEnterpriseRepo")
CREATES_IMAGES_OR_WEIGHTS = REPO_TYPES + ("aws:s3/bucket:Bucket", "alicloud:oss/bucket:Bucket",
                                          "alicloud:cr/registryEnterpriseInstance:RegistryEnterpriseInstance")
BUILTIN_GROUPS = ("kubernetes:core/", "kubernetes:apps/", "kubernetes:policy/", "kubernetes:autoscaling/",
                  "kubernetes:networking.k8s.io/", "kubernetes:apiextensions.k8s.io/", "kubernetes:helm.sh/",
                  "kubernetes:rbac.authorization.k8s.io/")


def edges(preview) -> dict[str, list[str]]:
    """URN -> what it waits for: explicit dependsOn, input references, and (for a component) its children."""
    out: dict[str, list[str]] = {r.urn: [*r.depends_on, *(u for urns in r.refs.values() for u in urns)]
                                 for r in preview.resources}
    return out


def by_type(preview, typ: str):
    return [r for r in preview.resources if r.type == typ]


def urn_of(preview, typ: str, suffix: str) -> str:
    (found,) = [r.urn for r in by_type(preview, typ) if r.name.endswith(suffix)]
    return found


@pytest.mark.parametrize("stack", ALI)
def test_every_acr_repository_depends_on_its_namespace(stack):
    p = cached_preview(stack)
    namespaces = {n.inputs["name"]: n.urn for n in
                  by_type(p, "alicloud:cs/registryEnterpriseNamespace:RegistryEnterpriseNamespace")}
    assert set(namespaces) == {"gpufleet", "gpufleet-charts"}
    repos = by_type(p, "alicloud:cs/registryEnterpriseRepo:RegistryEnterpriseRepo")
    assert repos
    for repo in repos:
        assert namespaces[repo.inputs["namespace"]] in repo.depends_on, repo.name  # linked only by name


@pytest.mark.parametrize("stack", ALI)
def test_node_pools_and_cluster_depend_on_every_snat_entry(stack):
    p = cached_preview(stack)
    snats = {r.urn for r in by_type(p, "alicloud:vpc/snatEntry:SnatEntry")}
    assert len(snats) == 2 * len(load_stack(stack).network.zones)
    for pool in by_type(p, "alicloud:cs/nodePool:NodePool") + by_type(p, "alicloud:cs/managedKubernetes:ManagedKubernetes"):
        assert snats <= set(pool.depends_on), pool.name


@pytest.mark.parametrize("stack", AWS)
def test_node_groups_depend_on_their_nat_routes(stack):
    p = cached_preview(stack)
    nats = {r.urn for r in by_type(p, "aws:ec2/natGateway:NatGateway")}
    assocs = {r.urn for r in by_type(p, "aws:ec2/routeTableAssociation:RouteTableAssociation") if "-private-" in r.name}
    assert len(nats) == len(assocs) == len(load_stack(stack).network.zones)
    for group in by_type(p, "aws:eks/nodeGroup:NodeGroup"):
        assert nats | assocs <= set(group.depends_on), group.name


@pytest.mark.parametrize("stack", STACKS)
def test_no_kubernetes_object_in_the_platform_phase(stack):
    p = cached_preview(stack)
    platform = p.in_phase("platform")
    assert platform and not [r.name for r in platform if r.type.startswith(("kubernetes:", "pulumi:providers:kubernetes"))]
    assert not [r.name for r in platform if r.type.startswith("gpufleet:k8s:")]


@pytest.mark.parametrize("stack", STACKS)
def test_workloads_reach_the_cluster_only_through_the_platform_stack_reference(stack):
    p = cached_preview(stack)
    workloads = p.in_phase("workloads")
    (ref,) = [r for r in workloads if r.type == "pulumi:pulumi:StackReference"]
    assert ref.inputs["name"] == f"organization/gpufleet/{stack}"
    (provider,) = [r for r in workloads if r.type == "pulumi:providers:kubernetes"]
    assert provider.refs["kubeconfig"] == [ref.urn]
    k8s_objects = [r for r in workloads if r.type.startswith("kubernetes:")]
    assert k8s_objects and all(r.provider == provider.urn for r in k8s_objects)
    # Nothing in the workloads phase is a cloud resource the platform owns.
    assert not [r.name for r in workloads if r.type.startswith(("aws:eks", "aws:ec2", "alicloud:cs/", "alicloud:vpc"))]


@pytest.mark.parametrize("stack", STACKS)
def test_every_custom_resource_depends_on_its_crd_installation(stack):
    p = cached_preview(stack)
    graph = edges(p)
    crds = {r.inputs["spec"]["names"]["kind"]: r.urn
            for r in by_type(p, "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition")}
    assert set(crds) == set(crd_kinds()) == {"GatewayClass", "Gateway", "HTTPRoute"}
    # The Helm release that installs each other group's CRDs (Envoy Gateway also bundles ReferenceGrant's).
    helm = {r.inputs["name"]: r.urn for r in by_type(p, "kubernetes:helm.sh/v3:Release")}
    installers = {"gateway.envoyproxy.io": helm["eg"], "gateway.networking.k8s.io": helm["eg"], "keda.sh": helm["keda"],
                  "monitoring.coreos.com": helm["kps"],
                  "karpenter.sh": helm.get("karpenter"), "karpenter.k8s.aws": helm.get("karpenter")}
    custom = [r for r in p.resources if r.type.startswith("kubernetes:") and not r.type.startswith(BUILTIN_GROUPS)]
    assert {r.type.rsplit(":", 1)[-1] for r in custom} >= {"GatewayClass", "Gateway", "HTTPRoute", "ReferenceGrant",
                                                           "EnvoyProxy", "ScaledObject", "PrometheusRule", "PodMonitor"}
    for r in custom:
        kind, group = r.type.rsplit(":", 1)[-1], r.type.split(":")[1].rsplit("/", 1)[0]
        installer = crds.get(kind, installers[group])
        assert installer and installer in closure(r.urn, graph), f"{r.name} ({kind}) does not wait for its CRD"
    assert set(crds.values()) <= closure(helm["eg"], graph)  # Helm then skips its older bundled copies


@pytest.mark.parametrize("stack", STACKS)
def test_no_deployment_waits_on_an_image_or_weights_created_in_the_same_run(stack):
    p = cached_preview(stack)
    workloads = p.in_phase("workloads")
    assert not [r.name for r in workloads if r.type in CREATES_IMAGES_OR_WEIGHTS]
    graph = edges(p)
    made_here = {r.urn for r in workloads if r.type in CREATES_IMAGES_OR_WEIGHTS}
    for d in [r for r in workloads if r.type in ("kubernetes:apps/v1:Deployment", "kubernetes:helm.sh/v3:Release")]:
        assert not closure(d.urn, graph) & made_here, d.name
    # ... and every image a Deployment pulls from the stack's registry has its repository in the platform phase.
    repos = {r.inputs["name"].rsplit("/", 1)[-1] for r in p.in_phase("platform") if r.type in REPO_TYPES}
    registry = p.outputs["registryUrl"]
    for d in [r for r in workloads if r.type == "kubernetes:apps/v1:Deployment"]:
        for c in d.inputs["spec"]["template"]["spec"]["containers"]:
            if c["image"].startswith(registry):
                assert c["image"][len(registry) + 1:].split(":")[0] in repos, c["image"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_names_its_parent_and_components_are_parents(stack):
    p = cached_preview(stack)
    urns = {r.urn for r in p.resources}
    stack_roots = {f"urn:pulumi:{stack}::{project}::pulumi:pulumi:Stack::{project}-{stack}"
                   for project in ("gpufleet", "gpufleet-workloads")}
    for r in p.resources:
        assert r.parent in urns | stack_roots, (r.name, r.parent)


def _pulled_from(value, host: str, found: set) -> None:
    """(namespace, repository, tag) of every image reference into `host`, however a chart spells it."""
    if isinstance(value, str):
        found.update(re.findall(re.escape(host) + r"/([a-z0-9-]+)/([a-z0-9._-]+):([A-Za-z0-9._-]+)", value))
    elif isinstance(value, dict):
        repo, tag = value.get("repository"), value.get("tag")
        if isinstance(repo, str) and isinstance(tag, str):
            full = f"{value['registry']}/{repo}" if value.get("registry") == host else repo
            if full.startswith(host + "/"):
                ns, _, name = full[len(host) + 1:].partition("/")
                found.add((ns, name, tag))
        for v in value.values():
            _pulled_from(v, host, found)
    elif isinstance(value, list):
        for v in value:
            _pulled_from(v, host, found)


@pytest.mark.parametrize("stack", STACKS)
def test_every_image_and_chart_pulled_from_the_stack_registry_has_a_repository(stack):
    """What the workloads phase pulls from the stack's registry is exactly on the mirror list, each once."""
    from gpufleet.core.artifacts import stack_artifacts

    p = cached_preview(stack)
    host = p.outputs["registryUrl"].split("/", 1)[0]
    artifacts = stack_artifacts(load_stack(stack))
    listed = {(a.namespace or "gpufleet", a.repository, a.tag) for a in artifacts}
    assert len(listed) == len(artifacts)  # no (namespace, repository, tag) twice
    pulled: set = set()
    workloads = p.in_phase("workloads")
    for r in workloads:
        _pulled_from(r.inputs, host, pulled)
    public = host.replace("-registry-vpc.", "-registry.")
    for r in workloads:  # Helm charts from the registry's OCI endpoint, pinned by version
        chart = r.inputs.get("chart") if r.type == "kubernetes:helm.sh/v3:Release" else None
        if isinstance(chart, str) and chart.startswith(f"oci://{public}/"):
            ns, _, name = chart[len(f"oci://{public}/"):].partition("/")
            pulled.add((ns, name, r.inputs["version"]))
    assert pulled <= listed, sorted(pulled - listed)
    if load_stack(stack).jurisdiction == "cn":  # everything, in region
        assert pulled == listed, sorted(listed - pulled)
