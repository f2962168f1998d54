"""Cloud hardening rules on EKS/ACK, node pools, buckets, registries, keys and IAM/RAM policies."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from gpufleet.policies import cloud_hardening as cloud
from gpufleet.policies.model import UNKNOWN, PolicyContext, Resource, StackContext, Violation

EKS = "aws:eks/cluster:Cluster"
ACK = "alicloud:cs/managedKubernetes:ManagedKubernetes"
LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]


def ctx(today: date = date(2026, 11, 22), **settings: Any) -> PolicyContext:
    return PolicyContext(StackContext("prod-us-east-1", "aws", "us-east-1", "global", today=today), settings)


# --------------------------------------------------------------------------- k8s-api-not-public


def test_private_eks_and_ack_endpoints_pass():
    assert cloud.k8s_api_not_public(EKS, {"vpcConfig": {"endpointPublicAccess": False}}, ctx()) == []
    assert cloud.k8s_api_not_public(ACK, {"slbInternetEnabled": False}, ctx()) == []


def test_public_eks_endpoint_is_fine_only_with_operator_cidrs():
    limited = {"vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}}
    assert cloud.k8s_api_not_public(EKS, limited, ctx()) == []
    world = {"vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24", "0.0.0.0/0"]}}
    assert cloud.k8s_api_not_public(EKS, world, ctx()) == ["vpcConfig.publicAccessCidrs contains 0.0.0.0/0, the whole internet"]


def test_eks_defaults_are_public_to_everyone():
    assert cloud.k8s_api_not_public(EKS, {"vpcConfig": {"subnetIds": ["s"]}}, ctx()) == [
        "vpcConfig.endpointPublicAccess is on with no publicAccessCidrs, which EKS opens to 0.0.0.0/0"]


def test_ack_internet_api_server_and_its_default():
    message = ("slbInternetEnabled puts the API server on an internet load balancer with no source allow-list; set it "
               "to false and reach the API over VPN or a bastion")
    assert cloud.k8s_api_not_public(ACK, {"slbInternetEnabled": True}, ctx()) == [message]
    assert cloud.k8s_api_not_public(ACK, {}, ctx()) == [message]
    assert cloud.k8s_api_not_public(ACK, {"slbInternetEnabled": UNKNOWN}, ctx()) == []


# --------------------------------------------------------------------------- k8s-secrets-kms


def test_secrets_encrypted_with_kms_pass():
    eks = {"encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:us-east-1:1:key/k"}}}
    assert cloud.k8s_secrets_kms(EKS, eks, ctx()) == []
    assert cloud.k8s_secrets_kms(ACK, {"encryptionProviderKey": "key-1"}, ctx()) == []


def test_secrets_without_kms_fail():
    assert cloud.k8s_secrets_kms(EKS, {}, ctx()) == [
        "encryptionConfig.resources does not include 'secrets'", "encryptionConfig.provider.keyArn is not set"]
    assert cloud.k8s_secrets_kms(ACK, {}, ctx()) == ["encryptionProviderKey is not set, so Secrets are stored unencrypted in etcd"]


# --------------------------------------------------------------------------- control-plane-logging


def test_all_control_plane_logs_pass():
    assert cloud.control_plane_logging(EKS, {"enabledClusterLogTypes": LOGS}, ctx()) == []
    ack = {"controlPlaneLogComponents": ["apiserver", "kcm", "scheduler", "ccm"], "auditLogConfig": {"enabled": True}}
    assert cloud.control_plane_logging(ACK, ack, ctx()) == []


def test_missing_control_plane_logs_fail():
    assert cloud.control_plane_logging(EKS, {"enabledClusterLogTypes": ["api", "audit"]}, ctx()) == [
        "enabledClusterLogTypes is missing authenticator, controllerManager, scheduler"]
    assert cloud.control_plane_logging(ACK, {"controlPlaneLogComponents": ["apiserver"]}, ctx()) == [
        "controlPlaneLogComponents is missing kcm, scheduler",
        "auditLogConfig.enabled is not true, so API server audit logs are not collected"]


# --------------------------------------------------------------------------- Kubernetes versions (catalog dates)


def test_version_in_standard_support_passes_until_its_end_date():
    assert cloud.k8s_version_in_standard_support(EKS, {"version": "1.35"}, ctx(date(2027, 3, 27))) == []
    assert cloud.k8s_version_in_standard_support(ACK, {"version": "1.34.1-aliyun.1"}, ctx(date(2027, 3, 31))) == []


def test_version_past_its_end_date_or_unknown_fails():
    assert cloud.k8s_version_in_standard_support(EKS, {"version": "1.33"}, ctx()) == [
        "Kubernetes 1.33 left aws standard support on 2026-07-29"]
    assert cloud.k8s_version_in_standard_support(ACK, {"version": "1.34.1-aliyun.1"}, ctx(date(2027, 4, 1))) == [
        "Kubernetes 1.34 left alicloud standard support on 2027-03-31"]
    assert cloud.k8s_version_in_standard_support(EKS, {"version": "1.29"}, ctx()) == [
        "Kubernetes 1.29 is not in the aws catalog of supported versions"]


def test_support_ending_warns_inside_the_window_only():
    assert cloud.k8s_version_support_ending(EKS, {"version": "1.34"}, ctx()) == [
        "Kubernetes 1.34 leaves aws standard support on 2026-12-02 (10 days from 2026-11-22); plan the upgrade"]
    assert cloud.k8s_version_support_ending(EKS, {"version": "1.35"}, ctx()) == []  # 125 days out
    assert cloud.k8s_version_support_ending(EKS, {"version": "1.35"}, ctx(warnDays=200)) != []
    assert cloud.k8s_version_support_ending(EKS, {"version": "1.33"}, ctx()) == []  # already out: the mandatory rule


# --------------------------------------------------------------------------- imdsv2-required


def test_imdsv2_required_on_launch_templates_and_node_pools_passes():
    assert cloud.imdsv2_required("aws:ec2/launchTemplate:LaunchTemplate", {"metadataOptions": {"httpTokens": "required"}}, ctx()) == []
    assert cloud.imdsv2_required("aws:eks/nodeGroup:NodeGroup", {"launchTemplate": {"id": "lt-1", "version": "1"}}, ctx()) == []
    assert cloud.imdsv2_required("alicloud:cs/nodePool:NodePool", {"instanceMetadataOptions": {"httpTokens": "required"}}, ctx()) == []


def test_imdsv1_allowed_fails():
    assert cloud.imdsv2_required("aws:ec2/launchTemplate:LaunchTemplate", {"metadataOptions": {"httpTokens": "optional"}}, ctx()) == [
        "metadataOptions.httpTokens is 'optional', not 'required'"]
    assert cloud.imdsv2_required("aws:ec2/launchTemplate:LaunchTemplate", {}, ctx()) == [
        "metadataOptions.httpTokens is not set, and the default allows IMDSv1"]
    assert cloud.imdsv2_required("aws:eks/nodeGroup:NodeGroup", {"amiType": "AL2023_x86_64_NVIDIA"}, ctx()) == [
        "has no launchTemplate, so nothing requires IMDSv2 on its nodes"]
    assert cloud.imdsv2_required("alicloud:cs/nodePool:NodePool", {}, ctx()) == [
        "instanceMetadataOptions.httpTokens is not set, and the default allows IMDSv1 (ECS hardened mode)"]


# --------------------------------------------------------------------------- buckets (stack scope)


def s3_stack(block: dict | None = None, versioning: str = "Enabled", sse: str = "aws:kms") -> list[Resource]:
    bucket = Resource("aws:s3/bucket:Bucket", "w", {"bucketPrefix": "gpufleet-w-"})
    rest = [
        Resource("aws:s3/bucketVersioning:BucketVersioning", "w", {"bucket": "w-3d9dc1ea", "versioningConfiguration": {"status": versioning}}),
        Resource("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "w",
                 {"bucket": "w-3d9dc1ea", "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": sse}}]}),
    ]
    if block is not None:
        rest.append(Resource("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "w", {"bucket": "w-3d9dc1ea", **block}))
    return [bucket, *rest]


ALL_BLOCKED = dict.fromkeys(cloud.S3_BLOCK_FLAGS, True)


def oss_stack(acl: str = "private", versioning: str = "Enabled", sse: str = "KMS", blocked: bool | None = True) -> list[Resource]:
    bucket = Resource("alicloud:oss/bucket:Bucket", "w", {"bucket": "gpufleet-w-1", "acl": acl, "versioning": {"status": versioning},
                                                         "serverSideEncryptionRule": {"sseAlgorithm": sse}})
    block = [Resource("alicloud:oss/bucketPublicAccessBlock:BucketPublicAccessBlock", "w",
                      {"bucket": "gpufleet-w-1", "blockPublicAccess": blocked})] if blocked is not None else []
    return [bucket, *block]


def test_private_versioned_kms_buckets_pass():
    for stack in (s3_stack(ALL_BLOCKED), oss_stack()):
        assert cloud.bucket_private(stack, ctx()) == []
        assert cloud.bucket_versioning(stack, ctx()) == []
        assert cloud.bucket_encrypted(stack, ctx()) == []


def test_public_buckets_fail():
    s3 = s3_stack({**ALL_BLOCKED, "restrictPublicBuckets": False})
    assert [v.message for v in cloud.bucket_private(s3, ctx())] == [
        "BucketPublicAccessBlock w leaves restrictPublicBuckets off"]
    assert [v.message for v in cloud.bucket_private(s3_stack(None), ctx())] == ["has no BucketPublicAccessBlock"]
    oss = oss_stack(acl="public-read", blocked=None)
    violations = cloud.bucket_private(oss, ctx())
    assert [v.message for v in violations] == ["acl is 'public-read'", "has no BucketPublicAccessBlock"]
    assert violations[0].resource == oss[0]


def test_unversioned_buckets_fail():
    assert cloud.bucket_versioning(s3_stack(ALL_BLOCKED, versioning="Suspended"), ctx()) == [
        Violation("versioning is not enabled", s3_stack(ALL_BLOCKED)[0])]
    assert [v.message for v in cloud.bucket_versioning(oss_stack(versioning="Suspended"), ctx())] == ["versioning is not enabled"]


def test_buckets_without_kms_default_encryption_fail():
    assert [v.message for v in cloud.bucket_encrypted(s3_stack(ALL_BLOCKED, sse="AES256"), ctx())] == [
        "default encryption is AES256, not KMS"]
    assert [v.message for v in cloud.bucket_encrypted(oss_stack(sse="AES256"), ctx())] == ["default encryption is AES256, not KMS"]
    assert [v.message for v in cloud.bucket_encrypted(s3_stack(ALL_BLOCKED)[:2], ctx())] == ["has no KMS default encryption"]


def test_companions_are_matched_to_their_own_bucket():
    bucket = Resource("aws:s3/bucket:Bucket", "prod-w", {"bucketPrefix": "gpufleet-w-"})
    assert cloud.refers_to("prod-w-3d9dc1ea", bucket) and cloud.refers_to("gpufleet-w-abc", bucket)
    assert cloud.refers_to(UNKNOWN, bucket)
    assert not cloud.refers_to("other-bucket", bucket)


# --------------------------------------------------------------------------- registries, keys


def test_registries_with_immutable_tags_and_scanning_pass():
    ecr = {"imageTagMutability": "IMMUTABLE", "imageScanningConfiguration": {"scanOnPush": True}}
    assert cloud.registry_immutable_tags("aws:ecr/repository:Repository", ecr, ctx()) == []
    assert cloud.registry_scan_on_push("aws:ecr/repository:Repository", ecr, ctx()) == []
    assert cloud.registry_immutable_tags("alicloud:cs/registryEnterpriseRepo:RegistryEnterpriseRepo", {"tagImmutability": True}, ctx()) == []
    assert cloud.registry_scan_on_push("alicloud:cr/registryEnterpriseInstance:RegistryEnterpriseInstance", {"imageScanner": "ACR"}, ctx()) == []


def test_mutable_tags_and_unscanned_images_fail():
    assert cloud.registry_immutable_tags("aws:ecr/repository:Repository", {}, ctx()) == [
        "imageTagMutability is 'MUTABLE', not 'IMMUTABLE'"]
    assert cloud.registry_scan_on_push("aws:ecr/repository:Repository", {"imageScanningConfiguration": {"scanOnPush": False}}, ctx()) == [
        "imageScanningConfiguration.scanOnPush is not true"]
    assert cloud.registry_immutable_tags("alicloud:cs/registryEnterpriseRepo:RegistryEnterpriseRepo", {}, ctx()) == [
        "tagImmutability is not true"]
    assert cloud.registry_scan_on_push("alicloud:cr/registryEnterpriseInstance:RegistryEnterpriseInstance",
                                       {"imageScanner": "DISABLE"}, ctx()) == [
        "imageScanner is 'DISABLE'; set 'ACR' (Trivy) or 'SAS' so pushed images are scanned"]
    assert cloud.registry_immutable_tags("alicloud:cr/repo:Repo", {"name": "vllm"}, ctx()) == [
        "is an ACR Personal Edition repository, which cannot make tags immutable; use ACR Enterprise Edition"]


def test_kms_rotation():
    assert cloud.kms_rotation("aws:kms/key:Key", {"enableKeyRotation": True}, ctx()) == []
    assert cloud.kms_rotation("aws:kms/key:Key", {}, ctx()) == ["enableKeyRotation is not true"]
    assert cloud.kms_rotation("aws:kms/key:Key", {"customerMasterKeySpec": "RSA_2048"}, ctx()) == []  # asymmetric: no rotation
    assert cloud.kms_rotation("alicloud:kms/key:Key", {"automaticRotation": "Enabled"}, ctx()) == []
    assert cloud.kms_rotation("alicloud:kms/key:Key", {}, ctx()) == ["automaticRotation is 'Disabled', not 'Enabled'"]


# --------------------------------------------------------------------------- iam-no-wildcard-actions


def document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_named_actions_pass():
    read = document({"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject", "kms:Decrypt"], "Resource": ["*"]},
                    {"Effect": "Deny", "Action": "s3:*", "Resource": "*"})
    assert cloud.iam_no_wildcard_actions("aws:iam/rolePolicy:RolePolicy", {"policy": read}, ctx()) == []
    ram = json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": ["oss:GetObject"], "Resource": ["acs:oss:*:*:b/*"]}]})
    assert cloud.iam_no_wildcard_actions("alicloud:ram/policy:Policy", {"policyDocument": ram}, ctx()) == []


def test_wildcards_not_action_and_admin_attachments_fail():
    wild = document({"Sid": "All", "Effect": "Allow", "Action": "*", "Resource": "*"},
                    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:*"], "Resource": "*"},
                    {"Sid": "Inverse", "Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert cloud.iam_no_wildcard_actions("aws:iam/policy:Policy", {"policy": wild}, ctx()) == [
        "All allows '*'", "statement 1 allows 's3:*'", "Inverse allows NotAction, i.e. every action not listed"]
    role = {"inlinePolicies": [{"name": "ops", "policy": document({"Effect": "Allow", "Action": "ecr:*", "Resource": "*"})}]}
    assert cloud.iam_no_wildcard_actions("aws:iam/role:Role", role, ctx()) == ["inline policy 'ops': statement 0 allows 'ecr:*'"]
    assert cloud.iam_no_wildcard_actions("aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                                         {"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}, ctx()) == [
        "attaches arn:aws:iam::aws:policy/AdministratorAccess, which allows every action"]
    assert cloud.iam_no_wildcard_actions("alicloud:ram/rolePolicyAttachment:RolePolicyAttachment",
                                         {"policyName": "AdministratorAccess", "policyType": "System"}, ctx()) == [
        "attaches the system policy AdministratorAccess, which allows every action"]


# --------------------------------------------------------------------------- cloud-cost-tags

TAGS = {"project": "gpufleet", "stack": "prod-us-east-1", "jurisdiction": "global", "team": "t", "cost-centre": "CC-1"}


def test_fully_tagged_resources_pass():
    assert cloud.cloud_cost_tags("aws:s3/bucket:Bucket", {"tags": TAGS}, ctx()) == []
    assert cloud.cloud_cost_tags("aws:kms/alias:Alias", {"name": "alias/x"}, ctx()) == []  # not taggable


@pytest.mark.parametrize("props,expected", [
    ({"tags": {**TAGS, "cost-centre": ""}}, ["tags lack cost-centre"]),
    ({"tags": {"project": "gpufleet"}}, ["tags lack stack, jurisdiction, team, cost-centre"]),
    ({"tags": {**TAGS, "stack": "prod-eu-central-1"}}, ["tag stack='prod-eu-central-1' names another stack than 'prod-us-east-1'"]),
    ({}, ["has no tags"]),
])
def test_missing_or_wrong_tags_fail(props, expected):
    assert cloud.cloud_cost_tags("aws:eks/nodeGroup:NodeGroup", props, ctx()) == expected
