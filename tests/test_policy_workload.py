"""Workload hardening on Kubernetes objects shaped as Pulumi registers them (metadata/spec)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gpufleet.policies import workload_hardening as wl
from gpufleet.policies.model import PolicyContext, Resource, StackContext, Violation

NS = "kubernetes:core/v1:Namespace"
DEPLOY = "kubernetes:apps/v1:Deployment"
DAEMONSET = "kubernetes:apps/v1:DaemonSet"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
LABELS = {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": "blue", "app.kubernetes.io/component": "model-server",
          "gpufleet.io/team": "assistant-platform", "gpufleet.io/stack": "prod-us-east-1", "gpufleet.io/model": "Qwen3-8B"}
PROBE = {"httpGet": {"path": "/health", "port": "http"}}


def ctx(**settings: Any) -> PolicyContext:
    return PolicyContext(StackContext("prod-us-east-1", "aws", "us-east-1", "global"), settings)


def namespace(name: str = "llm-blue", **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def vllm_container(**overrides: Any) -> dict:
    container = {
        "name": "vllm", "image": "x/vllm:1",
        "resources": {"requests": {"cpu": "6", "memory": "24Gi"}, "limits": {"cpu": "8", "memory": "28Gi", "nvidia.com/gpu": 1}},
        "startupProbe": PROBE, "readinessProbe": {"httpGet": {"path": "/v1/models", "port": "http"}}, "livenessProbe": PROBE,
        "env": [{"name": "HF_HUB_OFFLINE", "value": "1"}, {"name": "TOKENIZERS_PARALLELISM", "value": "false"}],
    }
    container.update(overrides)
    return container


def deployment(*containers: dict, labels: dict | None = None, namespace_: str = "llm-blue", kind: str = "Deployment") -> dict:
    labels = dict(LABELS) if labels is None else labels
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "vllm-blue", "namespace": namespace_, "labels": labels},
            "spec": {"selector": {"matchLabels": {"app.kubernetes.io/instance": "blue"}},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": list(containers) or [vllm_container()]}}}}


def default_deny(ns: str = "llm-blue") -> dict:
    return {"kind": "NetworkPolicy", "metadata": {"name": "default-deny", "namespace": ns},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}


# --------------------------------------------------------------------------- pod-security-restricted

MODEL_NS_LABELS = {"app.kubernetes.io/component": "model-server", "gpufleet.io/model": "Qwen3-8B"}


def test_model_namespace_enforcing_restricted_passes():
    ns = namespace(**MODEL_NS_LABELS, **{wl.PSA_ENFORCE: "restricted"})
    assert wl.pod_security_restricted(NS, ns, ctx()) == []


def test_model_namespace_with_a_weaker_level_fails():
    ns = namespace(**MODEL_NS_LABELS, **{wl.PSA_ENFORCE: "baseline"})
    assert wl.pod_security_restricted(NS, ns, ctx()) == [
        "is a model namespace but pod-security.kubernetes.io/enforce is 'baseline', not 'restricted'"]


def test_other_namespaces_must_at_least_state_a_level():
    privileged = namespace("nvidia-device-plugin", **{"app.kubernetes.io/component": "device-plugin", wl.PSA_ENFORCE: "privileged"})
    assert wl.pod_security_restricted(NS, privileged, ctx()) == []
    assert wl.pod_security_restricted(NS, namespace("gateway"), ctx()) == [
        "has no pod-security.kubernetes.io/enforce label, so the cluster default (privileged) applies"]


# --------------------------------------------------------------------------- network-default-deny


def test_default_deny_recognised_and_partial_policies_are_not():
    assert wl.is_default_deny(default_deny())
    ingress_only = copy.deepcopy(default_deny())
    ingress_only["spec"]["policyTypes"] = ["Ingress"]
    allows = copy.deepcopy(default_deny())
    allows["spec"]["egress"] = [{"ports": [{"port": 443}]}]
    selective = copy.deepcopy(default_deny())
    selective["spec"]["podSelector"] = {"matchLabels": {"a": "b"}}
    assert [wl.is_default_deny(p) for p in (ingress_only, allows, selective)] == [False, False, False]


def test_namespaces_with_default_deny_pass():
    resources = [Resource(NS, "ns", namespace()), Resource(DEPLOY, "d", deployment()), Resource(NETPOL, "np", default_deny())]
    assert wl.network_default_deny(resources, ctx()) == []


def test_namespaces_without_default_deny_fail():
    ns = Resource(NS, "ns", namespace())
    stray = Resource(DEPLOY, "d2", deployment(namespace_="gateway"))
    system = Resource(DEPLOY, "d3", deployment(namespace_="kube-system"))
    assert wl.network_default_deny([ns, stray, system], ctx()) == [
        Violation("namespace 'gateway' has no default-deny NetworkPolicy (podSelector {}, policyTypes [Ingress, Egress], no rules)", stray),
        Violation("namespace 'llm-blue' has no default-deny NetworkPolicy (podSelector {}, policyTypes [Ingress, Egress], no rules)", ns),
    ]
    assert [v.resource for v in wl.network_default_deny([stray], ctx(exemptNamespaces=["gateway"]))] == []


# --------------------------------------------------------------------------- container-resource-limits


def test_limited_gpu_model_server_passes():
    assert wl.container_resource_limits(DEPLOY, deployment(), ctx()) == []


def test_missing_limits_fail():
    bare = vllm_container(resources={"requests": {"cpu": "1", "nvidia.com/gpu": 1}})
    assert wl.container_resource_limits(DEPLOY, deployment(bare), ctx()) == [
        "container 'vllm' has no cpu or memory limit",
        "container 'vllm' requests nvidia.com/gpu without an equal limit",
        "is a model server but no container has a nvidia.com/gpu limit"]


def test_gpu_limit_required_only_of_model_servers():
    cpu_only = vllm_container(resources={"limits": {"cpu": "200m", "memory": "256Mi"}})
    plugin_labels = {"app.kubernetes.io/component": "device-plugin", "gpufleet.io/team": "t", "gpufleet.io/stack": "s"}
    assert wl.container_resource_limits(DAEMONSET, deployment(cpu_only, labels=plugin_labels, kind="DaemonSet"), ctx()) == []
    assert wl.container_resource_limits(DEPLOY, deployment(cpu_only), ctx()) == [
        "is a model server but no container has a nvidia.com/gpu limit"]


# --------------------------------------------------------------------------- container-probes


def test_serving_container_with_all_probes_passes():
    assert wl.container_probes(DEPLOY, deployment(), ctx()) == []


def test_missing_probes_fail_for_serving_workloads_only():
    unprobed = vllm_container(startupProbe=None, livenessProbe=None)
    assert wl.container_probes(DEPLOY, deployment(unprobed), ctx()) == ["container 'vllm' has no startupProbe, livenessProbe"]
    assert wl.container_probes(DAEMONSET, deployment(unprobed, kind="DaemonSet"), ctx()) == []


# --------------------------------------------------------------------------- pod-disruption-budget


def pdb(ns: str = "llm-blue", **selector: str) -> dict:
    return {"kind": "PodDisruptionBudget", "metadata": {"name": "vllm-blue", "namespace": ns},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector or {"app.kubernetes.io/instance": "blue"}}}}


def test_deployment_covered_by_a_budget_passes():
    assert wl.pod_disruption_budget([Resource(DEPLOY, "d", deployment()), Resource(PDB, "p", pdb())], ctx()) == []


def test_deployment_without_a_matching_budget_fails():
    d = Resource(DEPLOY, "d", deployment())
    expected = [Violation("Deployment 'vllm-blue' in namespace 'llm-blue' has no PodDisruptionBudget selecting its pods", d)]
    assert wl.pod_disruption_budget([d], ctx()) == expected
    assert wl.pod_disruption_budget([d, Resource(PDB, "p", pdb("llm-green"))], ctx()) == expected
    assert wl.pod_disruption_budget([d, Resource(PDB, "p", pdb(**{"app.kubernetes.io/instance": "green"}))], ctx()) == expected


# --------------------------------------------------------------------------- no-secrets-in-env


@pytest.mark.parametrize("name,secret", [
    ("HF_TOKEN", True), ("HUGGING_FACE_HUB_TOKEN", True), ("DB_PASSWORD", True), ("OSS_ACCESS_KEY_ID", True),
    ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", True), ("OPENAI_API_KEY", True), ("apiKey", True), ("CLIENT_SECRET", True),
    ("TOKENIZERS_PARALLELISM", False), ("HF_HUB_OFFLINE", False), ("VLLM_USE_MODELSCOPE", False), ("PWD", False),
    ("KEYCLOAK_URL", False),
])
def test_secret_looking_env_names(name, secret):
    assert wl.is_secret_name(name) is secret


def test_secrets_from_secret_refs_pass():
    ref = vllm_container(env=[{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}},
                              {"name": "HF_HUB_OFFLINE", "value": "1"}])
    assert wl.no_secrets_in_env(DEPLOY, deployment(ref), ctx()) == []


def test_literal_secrets_fail():
    literal = vllm_container(env=[{"name": "HF_TOKEN", "value": "hf_" + "a" * 34},
                                  {"name": "EXTRA", "value": "AKIA" + "B" * 16},
                                  {"name": "DB_PASSWORD", "value": ""}])
    assert wl.no_secrets_in_env(DEPLOY, deployment(literal), ctx()) == [
        "container 'vllm' sets HF_TOKEN as a literal value; use valueFrom.secretKeyRef",
        "container 'vllm' sets EXTRA to what looks like a credential; use valueFrom.secretKeyRef"]
    assert wl.no_secrets_in_env(DEPLOY, deployment(literal), ctx(allowNames=["HF_TOKEN", "EXTRA"])) == []


# --------------------------------------------------------------------------- workload-cost-labels


def test_labelled_workloads_pass():
    assert wl.workload_cost_labels(DEPLOY, deployment(), ctx()) == []


def test_unlabelled_or_mislabelled_workloads_fail():
    labels = {k: v for k, v in LABELS.items() if k != "gpufleet.io/team"}
    assert wl.workload_cost_labels(DEPLOY, deployment(labels=labels), ctx()) == [
        "metadata labels lack gpufleet.io/team", "pod template labels lack gpufleet.io/team"]
    no_model = {k: v for k, v in LABELS.items() if k != "gpufleet.io/model"}
    assert wl.workload_cost_labels(DEPLOY, deployment(labels=no_model), ctx()) == [  # a model server by its component
        "metadata labels lack gpufleet.io/model", "pod template labels lack gpufleet.io/model"]
    other = {**LABELS, "gpufleet.io/stack": "prod-eu-central-1"}
    assert wl.workload_cost_labels(DEPLOY, deployment(labels=other), ctx()) == [
        "metadata label gpufleet.io/stack='prod-eu-central-1' names another stack than 'prod-us-east-1'",
        "pod template label gpufleet.io/stack='prod-eu-central-1' names another stack than 'prod-us-east-1'"]


# --------------------------------------------------------------------------- network-policy-enforced

from gpufleet.policies import cni  # noqa: E402
from gpufleet.policies.model import Resource as _Resource  # noqa: E402

_ACK = "alicloud:cs/managedKubernetes:ManagedKubernetes"


def _ack(*addons: dict) -> _Resource:
    return _Resource(_ACK, "ack", {"addons": list(addons)})


def test_flannel_on_ack_cannot_count_as_network_hardening():
    found = cni.network_policy_enforced([_ack({"name": "flannel"}, {"name": "csi-plugin"})], None)
    assert [v.message for v in found] == [
        "cluster: uses Flannel (or no Terway add-on), which does not enforce NetworkPolicy: every default-deny is a "
        "no-op; install terway-eniip with NetworkPolicy \"true\" at cluster creation"]


def test_terway_needs_network_policy_switched_on():
    off = cni.network_policy_enforced([_ack({"name": "terway-eniip", "config": '{"NetworkPolicy":"false"}'})], None)
    assert [v.message for v in off] == [
        "cluster: runs Terway without NetworkPolicy enabled (add-on config NetworkPolicy: \"true\"), so "
        "NetworkPolicies are not enforced"]
    on = cni.network_policy_enforced([_ack({"name": "terway-eniip", "config": '{"NetworkPolicy":"true"}'})], None)
    assert on == []


def test_eks_vpc_cni_must_enable_network_policy():
    cluster = _Resource("aws:eks/cluster:Cluster", "eks", {})
    bare = _Resource("aws:eks/addon:Addon", "cni", {"addonName": "vpc-cni"})
    good = _Resource("aws:eks/addon:Addon", "cni", {"addonName": "vpc-cni",
                                                      "configurationValues": '{"enableNetworkPolicy":"true"}'})
    assert [v.message for v in cni.network_policy_enforced([cluster, bare], None)] == [
        "cluster: vpc-cni add-on without configurationValues {\"enableNetworkPolicy\": \"true\"} does not enforce "
        "NetworkPolicy: every default-deny is a no-op"]
    assert [v.message for v in cni.network_policy_enforced([cluster], None)] == [
        "cluster: has no managed vpc-cni add-on with enableNetworkPolicy, so NetworkPolicies are not enforced"]
    assert cni.network_policy_enforced([cluster, good], None) == []


def test_a_shipped_stack_with_flannel_fails_the_preview(tmp_path, monkeypatch):
    """The mandatory rule turns a Flannel cluster into a failed preview, not a reported hardening."""
    import gpufleet.infra.components.alicloud_addons as addons
    from gpufleet.policy_runner import run_policies_for_previews
    from gpufleet.preview.engine import preview_stack

    monkeypatch.setattr(addons, "TERWAY", "flannel")
    preview = preview_stack("prod-cn-hangzhou")
    results = run_policies_for_previews([preview])["prod-cn-hangzhou"]
    assert [(r.policy, r.level) for r in results if r.policy == "network-policy-enforced"] == [
        ("network-policy-enforced", "mandatory")]
    # ... and the default-deny policies no longer count as met: each protected namespace is reported.
    unenforced = sorted(r.message for r in results if r.policy == "network-default-deny")
    assert unenforced and all("is not enforced by the cluster's CNI" in m for m in unenforced)
    assert {"namespace 'llm-blue'", "namespace 'llm-green'", "namespace 'gateway'"} <= {m.split(":")[0] for m in unenforced}
