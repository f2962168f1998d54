"""Alibaba Cloud stacks: ACK Pro hardening, SLS retention, NAT/SNAT, ACR, OSS, RAM and GPU pool."""

import json

import pytest

from gpufleet.core.gpu_capacity import gpu_capacity_plan

from conftest import cached_preview
from previewing import by_suffix, of_type, one
from gpufleet.core import iam_documents
from gpufleet.core.config import load_stack

ALI = ["prod-cn-hangzhou", "prod-cn-beijing"]


@pytest.mark.parametrize("stack", ALI)
def test_ack_pro_private_api_and_kms_envelope_encryption(stack):
    p = cached_preview(stack)
    ack = one(p, "alicloud:cs/managedKubernetes:ManagedKubernetes")
    assert ack["clusterSpec"] == "ack.pro.small"
    assert ack["slbInternetEnabled"] is False
    assert ack["disableEncryption"] is False
    key = [r for r in p.resources if r.type == "alicloud:kms/key:Key"][0]
    assert ack["encryptionProviderKey"].startswith(key.name)
    assert key.inputs["automaticRotation"] == "Enabled"
    assert ack["enableRrsa"] is True
    assert ack["newNatGateway"] is False


@pytest.mark.parametrize("stack", ALI)
def test_control_plane_and_audit_logs_to_sls_for_at_least_184_days(stack):
    p = cached_preview(stack)
    ack = one(p, "alicloud:cs/managedKubernetes:ManagedKubernetes")
    assert int(ack["controlPlaneLogTtl"]) >= 184
    assert set(ack["controlPlaneLogComponents"]) == {"apiserver", "kcm", "scheduler", "ccm", "controlplane-events"}
    project = one(p, "alicloud:log/project:Project")["projectName"]
    assert ack["controlPlaneLogProject"] == project
    assert ack["auditLogConfig"] == {"enabled": True, "slsProjectName": project}
    assert by_suffix(p, "alicloud:log/store:Store", "-artifacts-audit")["retentionPeriod"] >= 184
    assert all(r.inputs["retentionPeriod"] >= 184 for r in of_type(p, "alicloud:log/store:Store"))


@pytest.mark.parametrize("stack", ALI)
def test_vswitches_in_every_zone_and_snat_through_one_eip(stack):
    p = cached_preview(stack)
    zones = load_stack(stack).network.zones
    node_switches = [r for r in of_type(p, "alicloud:vpc/switch:Switch") if "-nodes-" in r.name]
    assert sorted(r.inputs["zoneId"] for r in node_switches) == sorted(zones)
    nat = one(p, "alicloud:vpc/natGateway:NatGateway")
    assert nat["natType"] == "Enhanced"
    assert one(p, "alicloud:ecs/eipAssociation:EipAssociation")["instanceType"] == "Nat"
    snats = of_type(p, "alicloud:vpc/snatEntry:SnatEntry")
    # Nodes and (Terway) pods each leave through SNAT, one entry per vSwitch.
    pod_switches = [r for r in of_type(p, "alicloud:vpc/switch:Switch") if "-pods-" in r.name]
    assert sorted(r.inputs["zoneId"] for r in pod_switches) == sorted(zones)
    assert len(snats) == 2 * len(zones)
    sources = {s.inputs["sourceVswitchId"] for s in snats}
    assert len(sources) == 2 * len(zones)
    assert {s.inputs["snatIp"] for s in snats} == {next(iter({s.inputs["snatIp"] for s in snats}))}


@pytest.mark.parametrize("stack", ALI)
def test_gpu_node_pool(stack):
    p = cached_preview(stack)
    cfg = load_stack(stack)
    gpu = by_suffix(p, "alicloud:cs/nodePool:NodePool", "-gpu")
    # the pool's own type first, then every other type that fits, for GPU stockouts
    assert gpu["instanceTypes"] == list(gpu_capacity_plan(cfg).instance_types)
    assert gpu["instanceTypes"][0] == cfg.gpu_pool.instance_type and len(gpu["instanceTypes"]) >= 2
    assert gpu["instanceTypes"][0].startswith(("ecs.gn7i", "ecs.gn7e"))
    assert (gpu["multiAzPolicy"], gpu["spotStrategy"]) == ("BALANCE", "NoSpot")
    assert len(gpu["vswitchIds"]) >= 2
    assert gpu["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    assert gpu["scalingConfig"] == {"enable": True, "minSize": cfg.gpu_pool.min_size, "maxSize": cfg.gpu_pool.max_size, "type": "gpu"}
    labels = {l["key"]: l["value"] for l in gpu["labels"]}
    assert labels["gpufleet.io/pool"] == "gpu" and labels["gpufleet.io/gpu-model"] == cfg.gpu_model
    assert gpu["systemDiskEncrypted"] is True and gpu["instanceMetadataOptions"] == {"httpTokens": "required"}
    system = by_suffix(p, "alicloud:cs/nodePool:NodePool", "-system")
    assert "taints" not in system and system["scalingConfig"]["minSize"] >= 2


@pytest.mark.parametrize("stack", ALI)
def test_acr_private_immutable_and_vpc_linked(stack):
    p = cached_preview(stack)
    assert one(p, "alicloud:cr/registryEnterpriseInstance:RegistryEnterpriseInstance")["imageScanner"] == "ACR"
    repos = of_type(p, "alicloud:cs/registryEnterpriseRepo:RegistryEnterpriseRepo")
    assert {(r.inputs["namespace"], r.inputs["name"]) for r in repos} == {
        ("gpufleet", n) for n in ("vllm-openai", "gateway", "envoy", "ratelimit", "gateway-helm", "keda",
                                  "keda-metrics-apiserver", "keda-admission-webhooks", "kube-prometheus-stack",
                                  "dcgm-exporter", "prometheus", "alertmanager", "prometheus-operator",
                                  "prometheus-config-reloader", "kube-webhook-certgen", "kube-state-metrics",
                                  "node-exporter", "grafana", "k8s-sidecar", "gpufleet-moderation")} | {("gpufleet-charts", "keda")}
    assert all(r.inputs["repoType"] == "PRIVATE" and r.inputs["tagImmutability"] is True for r in repos)
    assert one(p, "alicloud:cr/vpcEndpointLinkedVpc:VpcEndpointLinkedVpc")["moduleName"] == "Registry"
    assert "-registry-vpc." in p.outputs["registryUrl"]


@pytest.mark.parametrize("stack", ALI)
def test_oss_weights_bucket_private_versioned_kms(stack):
    p = cached_preview(stack)
    bucket = one(p, "alicloud:oss/bucket:Bucket")
    assert bucket["acl"] == "private"
    assert bucket["versioning"] == {"status": "Enabled"}
    assert bucket["serverSideEncryptionRule"]["sseAlgorithm"] == "KMS"
    assert one(p, "alicloud:oss/bucketPublicAccessBlock:BucketPublicAccessBlock")["blockPublicAccess"] is True


@pytest.mark.parametrize("stack", ALI)
def test_ram_role_is_least_privilege_and_scoped_to_model_servers(stack):
    p = cached_preview(stack)
    acts = iam_documents.actions(by_suffix(p, "alicloud:ram/policy:Policy", "-weights-reader")["policyDocument"])
    assert sorted(acts) == ["kms:Decrypt", "oss:GetBucketInfo", "oss:GetObject", "oss:ListObjects"]
    trust = json.loads(by_suffix(p, "alicloud:ram/role:Role", "-weights-reader")["assumeRolePolicyDocument"])["Statement"][0]
    assert trust["Condition"]["StringLike"] == {"oidc:sub": "system:serviceaccount:llm-*:model-server"}
    assert trust["Principal"]["Federated"][0].startswith("acs:ram::")
