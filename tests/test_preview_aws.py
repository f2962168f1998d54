"""AWS stacks: encryption, logging, private endpoints, IMDSv2, registry, bucket and GPU pool."""

import json

import pytest

from conftest import cached_preview
from previewing import by_suffix, of_type, one
from gpufleet.core import iam_documents
from gpufleet.core.config import load_stack

AWS = ["prod-us-east-1", "prod-eu-central-1", "prod-ap-northeast-1"]


@pytest.mark.parametrize("stack", AWS)
def test_eks_secrets_encrypted_with_rotating_kms_key(stack):
    p = cached_preview(stack)
    eks = one(p, "aws:eks/cluster:Cluster")
    assert eks["encryptionConfig"]["resources"] == ["secrets"]
    key_arn = eks["encryptionConfig"]["provider"]["keyArn"]
    assert key_arn.startswith(f"arn:aws:kms:{load_stack(stack).region}:")
    # the one stack key also encrypts logs and weights
    assert one(p, "aws:cloudwatch/logGroup:LogGroup")["kmsKeyId"] == key_arn
    rule = one(p, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")["rules"][0]
    assert rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == key_arn
    assert one(p, "aws:kms/key:Key")["enableKeyRotation"] is True


@pytest.mark.parametrize("stack", AWS)
def test_all_control_plane_logs_on_and_kept(stack):
    p = cached_preview(stack)
    cfg = load_stack(stack)
    eks = one(p, "aws:eks/cluster:Cluster")
    assert sorted(eks["enabledClusterLogTypes"]) == ["api", "audit", "authenticator", "controllerManager", "scheduler"]
    group = one(p, "aws:cloudwatch/logGroup:LogGroup")
    assert group["name"] == f"/aws/eks/{eks['name']}/cluster"
    assert group["retentionInDays"] == cfg.cluster.log_retention_days
    assert "kmsKeyId" in group


def test_private_endpoint_by_default():
    vpc = one(cached_preview("prod-us-east-1"), "aws:eks/cluster:Cluster")["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc


def test_public_endpoint_only_allow_listed():
    vpc = one(cached_preview("prod-eu-central-1"), "aws:eks/cluster:Cluster")["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True
    assert vpc["publicAccessCidrs"] == ["203.0.113.0/24"]


@pytest.mark.parametrize("stack", AWS)
def test_oidc_provider_for_irsa(stack):
    oidc = one(cached_preview(stack), "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert oidc["clientIdLists"] == ["sts.amazonaws.com"]
    assert oidc["url"].startswith("https://oidc.eks.")


@pytest.mark.parametrize("stack", AWS)
def test_gpu_nodes_come_from_karpenter_and_the_system_pool_stays_managed(stack):
    p = cached_preview(stack)
    cfg = load_stack(stack)
    assert [r.name for r in of_type(p, "aws:eks/nodeGroup:NodeGroup")] == [f"{stack}-system"]
    system = by_suffix(p, "aws:eks/nodeGroup:NodeGroup", "-system")
    assert system["amiType"] == "AL2023_x86_64_STANDARD" and "taints" not in system
    (pool,) = [r.inputs for r in p.resources if r.type == "kubernetes:karpenter.sh/v1:NodePool"]
    spec = pool["spec"]
    reqs = {r["key"]: r["values"] for r in spec["template"]["spec"]["requirements"]}
    assert reqs["node.kubernetes.io/instance-type"][0] == cfg.gpu_pool.instance_type
    assert reqs["topology.kubernetes.io/zone"] == list(cfg.network.zones)
    assert reqs["karpenter.sh/capacity-type"] == ["on-demand"]
    assert spec["template"]["spec"]["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    assert spec["template"]["metadata"]["labels"]["gpufleet.io/gpu-model"] == cfg.gpu_model
    assert spec["limits"]["nvidia.com/gpu"] == str(cfg.gpu_pool.max_size * cfg.gpus_per_node)
    (node_class,) = [r.inputs for r in p.resources if r.type == "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"]
    assert node_class["spec"]["metadataOptions"]["httpTokens"] == "required"
    assert node_class["spec"]["blockDeviceMappings"][0]["ebs"]["encrypted"] is True


@pytest.mark.parametrize("stack", AWS)
def test_imdsv2_and_encrypted_disks_on_every_node(stack):
    templates = of_type(cached_preview(stack), "aws:ec2/launchTemplate:LaunchTemplate")
    assert len(templates) == 1  # the system group's; Karpenter's GPU nodes: EC2NodeClass (test above)
    for t in templates:
        md = t.inputs["metadataOptions"]
        assert md["httpTokens"] == "required"
        assert md["httpPutResponseHopLimit"] == 1
        ebs = t.inputs["blockDeviceMappings"][0]["ebs"]
        assert ebs["encrypted"] == "true" and "kmsKeyId" in ebs


@pytest.mark.parametrize("stack", AWS)
def test_ecr_immutable_scanned_encrypted(stack):
    repo = one(cached_preview(stack), "aws:ecr/repository:Repository")
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["encryptionConfigurations"][0]["encryptionType"] == "KMS"


@pytest.mark.parametrize("stack", AWS)
def test_weights_bucket_private_versioned_encrypted(stack):
    p = cached_preview(stack)
    pab = one(p, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(pab[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    assert one(p, "aws:s3/bucketVersioning:BucketVersioning")["versioningConfiguration"]["status"] == "Enabled"
    rule = one(p, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")["rules"][0]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    policy = json.loads(one(p, "aws:s3/bucketPolicy:BucketPolicy")["policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert one(p, "aws:ec2/vpcEndpoint:VpcEndpoint")["vpcEndpointType"] == "Gateway"


@pytest.mark.parametrize("stack", AWS)
def test_network_spans_zones_with_nat_per_zone(stack):
    p = cached_preview(stack)
    zones = load_stack(stack).network.zones
    assert len(of_type(p, "aws:ec2/natGateway:NatGateway")) == len(zones)
    subnets = of_type(p, "aws:ec2/subnet:Subnet")
    assert len(subnets) == 2 * len(zones)
    public = [s for s in subnets if "kubernetes.io/role/elb" in s.inputs["tags"]]
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in public)


@pytest.mark.parametrize("stack", AWS)
def test_iam_is_least_privilege(stack):
    p = cached_preview(stack)
    for r in of_type(p, "aws:iam/rolePolicy:RolePolicy"):
        acts = iam_documents.actions(r.inputs["policy"])
        assert acts and not any("*" in a for a in acts)
    managed = sorted(r.inputs["policyArn"].rsplit("/", 1)[1] for r in of_type(p, "aws:iam/rolePolicyAttachment:RolePolicyAttachment"))
    assert managed == ["AmazonEC2ContainerRegistryPullOnly", "AmazonEKSClusterPolicy", "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy"]
    trusts = [json.loads(r.inputs["assumeRolePolicy"]) for r in of_type(p, "aws:iam/role:Role")]
    web = [t for t in trusts if t["Statement"][0]["Action"] == "sts:AssumeRoleWithWebIdentity"]
    subjects = sorted(next(iter(t["Statement"][0]["Condition"]["StringLike"].values())) for t in web)
    assert subjects == ["system:serviceaccount:kube-system:aws-node", "system:serviceaccount:kube-system:karpenter",
                        "system:serviceaccount:llm-*:model-server"]


def test_spot_gpu_allowed_outside_prod():
    from conftest import edited_stack
    from gpufleet.preview.engine import preview_stack
    text = edited_stack("prod-us-east-1", {"gpufleet:environment": "staging", "gpufleet:gpuPool.capacity": "spot"})
    p = preview_stack("prod-us-east-1", text=text)
    assert p.ok
    (pool,) = [r.inputs for r in p.resources if r.type == "kubernetes:karpenter.sh/v1:NodePool"]
    capacity = next(r for r in pool["spec"]["template"]["spec"]["requirements"] if r["key"] == "karpenter.sh/capacity-type")
    assert capacity["values"] == ["spot", "on-demand"]  # spot first, Karpenter falls back to on-demand
