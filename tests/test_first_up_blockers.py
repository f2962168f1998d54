"""One test per blocker and runtime defect of issue 18's review ("Why"), on the offline preview.

Graph-ordering facts (repositories after their namespace, nodes after SNAT, no
Kubernetes object in the platform phase, CRDs first, no same-run images) are
in test_deploy_graph.py; preflight checks are in test_doctor.py.
"""

from __future__ import annotations

import json

import pytest

from conftest import cached_preview, edited_stack, shipped_stacks
from gpufleet.core.config import load_stack
from gpufleet.infra.kubeconfig import ack_kubeconfig, cluster_of, eks_kubeconfig
from gpufleet.preview.engine import preview_stack
from previewing import of_type, one

STACKS = shipped_stacks()
ALI = [s for s in STACKS if load_stack(s).cloud == "alicloud"]
AWS = [s for s in STACKS if load_stack(s).cloud == "aws"]
ASG_ROLE = "role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"


@pytest.mark.parametrize("stack", AWS)
def test_kms_key_policy_lets_auto_scaling_use_the_key_for_encrypted_node_volumes(stack):
    policy = json.loads(one(cached_preview(stack), "aws:kms/key:Key")["policy"])
    asg = [s for s in policy["Statement"] if str(s["Principal"].get("AWS", "")).endswith(ASG_ROLE)]
    actions = {a for s in asg for a in s["Action"]}
    assert {"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey",
            "kms:CreateGrant"} <= actions
    (grant,) = [s for s in asg if "kms:CreateGrant" in s["Action"]]
    assert grant["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": True}}
    assert all(s["Principal"]["AWS"] == f"arn:aws:iam::123456789012:{ASG_ROLE}" for s in asg)


@pytest.mark.parametrize("stack", AWS)
def test_vpc_cni_enforces_network_policy(stack):
    (cni,) = [r.inputs for r in of_type(cached_preview(stack), "aws:eks/addon:Addon") if r.inputs["addonName"] == "vpc-cni"]
    assert json.loads(cni["configurationValues"]) == {"enableNetworkPolicy": "true"}


@pytest.mark.parametrize("stack", ALI)
def test_ack_runs_terway_with_network_policy_on_its_own_pod_vswitches(stack):
    p = cached_preview(stack)
    ack = one(p, "alicloud:cs/managedKubernetes:ManagedKubernetes")
    addons = {a["name"]: a.get("config") for a in ack["addons"]}
    assert "flannel" not in addons and "podCidr" not in ack
    assert json.loads(addons["terway-eniip"])["NetworkPolicy"] == "true"
    pod_switches = [r for r in of_type(p, "alicloud:vpc/switch:Switch") if "-pods-" in r.name]
    assert len(ack["podVswitchIds"]) == len(pod_switches) == len(load_stack(stack).network.zones)
    block = one(p, "alicloud:vpc/ipv4CidrBlock:Ipv4CidrBlock")
    assert block["secondaryCidrBlock"] == load_stack(stack).network.pod_cidr
    assert all(block_urn in r.depends_on for r in pod_switches
               for block_urn in [next(x.urn for x in p.resources if x.type == "alicloud:vpc/ipv4CidrBlock:Ipv4CidrBlock")])


@pytest.mark.parametrize("stack", ALI)
def test_acr_credential_helper_serves_the_stack_registry_to_every_namespace_that_pulls(stack):
    p = cached_preview(stack)
    addons = {r.inputs["name"]: r for r in of_type(p, "alicloud:cs/kubernetesAddon:KubernetesAddon")}
    helper = addons["aliyun-acr-credential-helper"]
    config = json.loads(helper.inputs["config"])
    (instance,) = of_type(p, "alicloud:cr/registryEnterpriseInstance:RegistryEnterpriseInstance")
    assert config["AcrInstanceInfo"][0]["instanceId"].startswith(instance.name)
    assert config["AcrInstanceInfo"][0]["regionId"] == load_stack(stack).region
    assert set(config["watchNamespace"].split(",")) == {"gateway", "keda"} | {f"llm-{r}" for r in load_stack(stack).releases}
    pools = {r.urn for r in of_type(p, "alicloud:cs/nodePool:NodePool") if r.name.endswith("-system")}
    assert pools <= set(helper.depends_on) and helper.refs["config"] == [instance.urn]


@pytest.mark.parametrize("stack", ALI)
def test_rrsa_pod_identity_webhook_is_installed(stack):
    p = cached_preview(stack)
    addons = {r.inputs["name"]: r for r in of_type(p, "alicloud:cs/kubernetesAddon:KubernetesAddon")}
    assert "ack-pod-identity-webhook" in addons
    assert one(p, "alicloud:cs/managedKubernetes:ManagedKubernetes")["enableRrsa"] is True
    namespaces = [r for r in of_type(p, "kubernetes:core/v1:Namespace") if r.name.endswith(("-namespace-llm-blue",))]
    assert namespaces[0].inputs["metadata"]["labels"]["pod-identity.alibabacloud.com/injection"] == "on"


@pytest.mark.parametrize("stack", ALI)
def test_ack_kubeconfig_is_fetched_every_run_and_holds_no_credential(stack):
    p = cached_preview(stack)
    (workloads,) = [ph for ph in p.phases if ph.phase == "workloads"]
    asked = [args for token, args in workloads.data_sources if token == "alicloud:cs/getClusterCredential:getClusterCredential"]
    assert asked == [{"clusterId": p.outputs["clusterId"], "temporaryDurationMinutes": 15}]
    doc = ack_kubeconfig("c123", "https://c123.cn-hangzhou.intranet.cs.aliyuncs.com:6443", "Q0E=")
    user = doc["users"][0]["user"]
    assert set(user) == {"exec"} and user["exec"]["command"] == "ack-ram-tool"
    assert user["exec"]["args"][:4] == ["credential-plugin", "get-credential", "--cluster-id", "c123"]
    eks = eks_kubeconfig("c", "https://x", "Q0E=", "us-east-1")["users"][0]["user"]
    assert set(eks) == {"exec"} and eks["exec"]["args"][:2] == ["eks", "get-token"]


def test_api_server_and_ca_come_from_the_fresh_credential():
    text = ("apiVersion: v1\nclusters:\n- name: a\n  cluster: {server: 'https://10.0.0.1:6443', "
            "certificate-authority-data: Q0E=}\ncontexts:\n- name: a\n  context: {cluster: a, user: a}\n"
            "current-context: a\nusers:\n- name: a\n  user: {client-certificate-data: X}\n")
    assert cluster_of(text) == ("https://10.0.0.1:6443", "Q0E=")
    with pytest.raises(ValueError, match="names no API server or CA"):
        cluster_of("apiVersion: v1\nclusters: []\n")


@pytest.mark.parametrize("stack", STACKS)
def test_gateway_api_crds_are_pinned_and_take_over_preinstalled_ones(stack):
    crds = of_type(cached_preview(stack), "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition")
    assert {c.inputs["metadata"]["name"] for c in crds} == {
        "gatewayclasses.gateway.networking.k8s.io", "gateways.gateway.networking.k8s.io",
        "httproutes.gateway.networking.k8s.io"}
    for c in crds:
        annotations = c.inputs["metadata"]["annotations"]
        assert annotations["gateway.networking.k8s.io/bundle-version"] == "v1.6.1"
        assert annotations["pulumi.com/patchForce"] == "true"  # server-side apply takes ACK's fields over


@pytest.mark.parametrize("stack", ALI)
def test_acr_subscription_is_shown_with_its_refund_warning(stack, capsys):
    p = cached_preview(stack)
    registry = p.outputs["registry"]
    assert registry["billing"] == "subscription (prepaid)" and registry["refundable"] is False
    assert "does not refund" in registry["warning"]
    assert one(p, "alicloud:cr/registryEnterpriseInstance:RegistryEnterpriseInstance")["paymentType"] == "Subscription"
    from gpufleet.cli import main
    assert main(["preview", "--stack", stack]) == 0
    text = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert "subscription (prepaid)" in text and "does not refund the term" in text


@pytest.mark.parametrize("stack", ALI)
def test_ack_version_is_the_newest_patch_the_region_offers(stack):
    ack = one(cached_preview(stack), "alicloud:cs/managedKubernetes:ManagedKubernetes")
    assert ack["version"] == {"1.34": "1.34.1-aliyun.1", "1.33": "1.33.3-aliyun.1"}[load_stack(stack).cluster.kubernetes_version]


def test_an_ack_version_the_region_does_not_offer_is_one_line(monkeypatch):
    import gpufleet.core.catalog_ack as catalog
    monkeypatch.setattr(catalog, "offered_ack_versions", lambda: ["1.33.3-aliyun.1", "1.35.0-aliyun.1"])
    p = preview_stack("prod-cn-hangzhou", text=edited_stack("prod-cn-hangzhou", {}))
    assert not p.ok
    assert p.error == ("stack 'prod-cn-hangzhou': gpufleet:cluster.kubernetesVersion: ACK in cn-hangzhou offers no "
                       "1.34.x for new clusters (offered: 1.33.3-aliyun.1, 1.35.0-aliyun.1)")
    assert p.resources == []  # asked before any resource is registered


def test_cost_report_says_how_the_registry_is_billed(capsys):
    from gpufleet.cli import main
    assert main(["cost"]) == 0
    text = " ".join(capsys.readouterr().out.split())  # the console wraps at its width
    for stack in ALI:
        assert (f"{stack}: registry ACR Enterprise Standard, subscription (prepaid): ACR Enterprise is a prepaid "
                "subscription (12 months, auto-renew): `pulumi destroy` deletes the instance but does not refund the "
                "term") in text
    assert text.count(": registry ") == len(ALI)
