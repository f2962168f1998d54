"""Cloud hardening for the clusters, node pools, buckets, registries, keys and IAM/RAM policies.

Each rule is the EKS and the ACK form of one control (AWS Security Hub / CIS EKS
on one side, Alibaba Cloud's ACK and OSS security guidance on the other), so a
stack is held to the same bar whichever cloud it runs on.
"""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import date, timedelta
from typing import Any, Callable, Mapping, Sequence

from gpufleet.core.catalog import load_instance_catalog
from gpufleet.core.cidrs import DEFAULT_MAX_PUBLIC_SHARE, exposure_problem

from .model import PolicyContext, Resource, Violation, is_unknown
from .props import as_list, get, known, truthy

EKS_CLUSTER = "aws:eks/cluster:Cluster"
ACK_TYPES = ("alicloud:cs/managedKubernetes:ManagedKubernetes", "alicloud:cs/kubernetes:Kubernetes")
EKS_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
ACK_LOG_COMPONENTS = ("apiserver", "kcm", "scheduler")
_MINOR = re.compile(r"^v?(\d+\.\d+)")


# --------------------------------------------------------------------------- control plane


def k8s_api_not_public(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """The Kubernetes API is private, or public only to named operator CIDRs: never 0.0.0.0/0, no public range broader than a /8, at most maxPublicShare of the public IPv4 space in all."""
    if resource_type == EKS_CLUSTER:
        vpc = props.get("vpcConfig") or {}
        public = vpc.get("endpointPublicAccess", True)  # EKS default: public
        if is_unknown(public) or not truthy(public):
            return []
        cidrs = vpc.get("publicAccessCidrs")
        if not cidrs:
            return ["vpcConfig.endpointPublicAccess is on with no publicAccessCidrs, which EKS opens to 0.0.0.0/0"]
        open_to_all = [c for c in as_list(cidrs) if isinstance(c, str) and _is_everything(c)]
        if open_to_all:
            return [f"vpcConfig.publicAccessCidrs contains {c}, the whole internet" for c in open_to_all]
        # Judged by the address space covered, not by the /0 spelling (gpufleet/core/cidrs.py).
        share = ctx.settings.get("maxPublicShare", DEFAULT_MAX_PUBLIC_SHARE)
        problem = exposure_problem([c for c in as_list(cidrs) if isinstance(c, str)], "the API", share)
        return [f"vpcConfig.publicAccessCidrs: {problem[1]}"] if problem else []
    if resource_type in ACK_TYPES:
        public = props.get("slbInternetEnabled", True)  # provider default: an internet SLB for the API server
        if not is_unknown(public) and truthy(public):
            return ["slbInternetEnabled puts the API server on an internet load balancer with no source allow-list; "
                    "set it to false and reach the API over VPN or a bastion"]
    return []


def _is_everything(cidr: str) -> bool:
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen == 0
    except ValueError:
        return False


def k8s_secrets_kms(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """Kubernetes Secrets are envelope-encrypted with the stack's KMS key
    (EKS encryptionConfig, ACK Pro encryptionProviderKey)."""
    if resource_type == EKS_CLUSTER:
        enc = props.get("encryptionConfig") or {}
        if is_unknown(enc):
            return []
        found = []
        if "secrets" not in as_list(enc.get("resources")):
            found.append("encryptionConfig.resources does not include 'secrets'")
        if get(enc, "provider.keyArn") in (None, ""):
            found.append("encryptionConfig.provider.keyArn is not set")
        return found
    if resource_type in ACK_TYPES:
        key = props.get("encryptionProviderKey")
        if not key and not is_unknown(key):
            return ["encryptionProviderKey is not set, so Secrets are stored unencrypted in etcd"]
    return []


def control_plane_logging(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """Every control-plane log is collected (EKS: api, audit, authenticator, controllerManager,
    scheduler; ACK: apiserver, kcm, scheduler and the audit log)."""
    if resource_type == EKS_CLUSTER:
        enabled = props.get("enabledClusterLogTypes")
        if is_unknown(enabled):
            return []
        missing = [t for t in EKS_LOG_TYPES if t not in as_list(enabled)]
        return [f"enabledClusterLogTypes is missing {', '.join(missing)}"] if missing else []
    if resource_type in ACK_TYPES:
        found = []
        components = props.get("controlPlaneLogComponents")
        if not is_unknown(components):
            missing = [c for c in ACK_LOG_COMPONENTS if c not in as_list(components)]
            if missing:
                found.append(f"controlPlaneLogComponents is missing {', '.join(missing)}")
        audit = get(props, "auditLogConfig.enabled")
        if not is_unknown(audit) and not truthy(audit):
            found.append("auditLogConfig.enabled is not true, so API server audit logs are not collected")
        return found
    return []


def _cluster_version(resource_type: str, props: Mapping[str, Any]) -> tuple[str, str] | None:
    """(cloud, 'major.minor') of an EKS or ACK cluster; None when the version is not set or not known."""
    cloud = "aws" if resource_type == EKS_CLUSTER else "alicloud" if resource_type in ACK_TYPES else None
    version = props.get("version")
    if cloud is None or not isinstance(version, str):
        return None
    match = _MINOR.match(version)
    return (cloud, match.group(1)) if match else None


def _support_end(cloud: str, minor: str) -> date | None:
    facts = load_instance_catalog().cloud(cloud).kubernetes_versions.get(minor)  # type: ignore[arg-type]
    return facts.standard_support_end if facts else None


def k8s_version_in_standard_support(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """The cluster runs a Kubernetes minor still in its provider's standard support."""
    found = _cluster_version(resource_type, props)
    if found is None:
        return []
    cloud, minor = found
    end = _support_end(cloud, minor)
    if end is None:
        return [f"Kubernetes {minor} is not in the {cloud} catalog of supported versions"]
    if ctx.stack.today > end:
        return [f"Kubernetes {minor} left {cloud} standard support on {end.isoformat()}"]
    return []


def k8s_version_support_ending(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """Warns when the cluster's Kubernetes minor leaves standard support within warnDays (default 90)."""
    found = _cluster_version(resource_type, props)
    if found is None:
        return []
    cloud, minor = found
    end = _support_end(cloud, minor)
    warn_days = int(ctx.settings.get("warnDays", 90))
    if end is None or ctx.stack.today > end or end - ctx.stack.today > timedelta(days=warn_days):
        return []
    return [f"Kubernetes {minor} leaves {cloud} standard support on {end.isoformat()} "
            f"({(end - ctx.stack.today).days} days from {ctx.stack.today.isoformat()}); plan the upgrade"]


# --------------------------------------------------------------------------- nodes


def _tokens_finding(field: str, tokens: Any, note: str = "") -> list[str]:
    if is_unknown(tokens) or tokens == "required":
        return []
    if tokens is None:
        return [f"{field} is not set, and the default allows IMDSv1{note}"]
    return [f"{field} is {tokens!r}, not 'required'{note}"]


def imdsv2_required(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """Nodes answer instance-metadata requests only with a session token (IMDSv2 / ECS hardened mode)."""
    if resource_type in ("aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/instance:Instance"):
        return _tokens_finding("metadataOptions.httpTokens", get(props, "metadataOptions.httpTokens"))
    if resource_type == "aws:eks/nodeGroup:NodeGroup" and not props.get("launchTemplate"):
        return ["has no launchTemplate, so nothing requires IMDSv2 on its nodes"]
    if resource_type == "alicloud:cs/nodePool:NodePool":
        return _tokens_finding("instanceMetadataOptions.httpTokens", get(props, "instanceMetadataOptions.httpTokens"),
                               " (ECS hardened mode)")
    if resource_type == "alicloud:ecs/instance:Instance":
        return _tokens_finding("httpTokens", props.get("httpTokens"), " (ECS hardened mode)")
    return []


# --------------------------------------------------------------------------- buckets

S3_BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
OSS_BUCKET = "alicloud:oss/bucket:Bucket"
S3_PUBLIC_ACCESS_BLOCK = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",)
S3_VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
S3_ENCRYPTION = ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                 "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2")
S3_ACLS = ("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")
OSS_PUBLIC_ACCESS_BLOCK = "alicloud:oss/bucketPublicAccessBlock:BucketPublicAccessBlock"
OSS_ACL = "alicloud:oss/bucketAcl:BucketAcl"
OSS_VERSIONING = "alicloud:oss/bucketVersioning:BucketVersioning"
OSS_ENCRYPTION = "alicloud:oss/bucketServerSideEncryption:BucketServerSideEncryption"
PUBLIC_ACLS = ("public-read", "public-read-write", "authenticated-read")
S3_BLOCK_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse", "KMS")


def refers_to(value: Any, bucket: Resource) -> bool:
    """Whether a companion's `bucket` input names this bucket (unknown values are given the benefit of doubt)."""
    if is_unknown(value):
        return True
    if not isinstance(value, str) or not value:
        return False
    props = bucket.props
    names = {props.get("bucket"), props.get("id")}
    if value in names:
        return True
    prefix = props.get("bucketPrefix")
    if isinstance(prefix, str) and prefix and value.startswith(prefix):
        return True
    # Physical ids Pulumi derives from the logical name ('<name>-<suffix>').
    return value == bucket.name or value.startswith(f"{bucket.name}-")


def _companions(resources: Sequence[Resource], types: Sequence[str], bucket: Resource) -> list[Resource]:
    return [r for r in resources if r.type in types and refers_to(r.props.get("bucket"), bucket)]


def _buckets(resources: Sequence[Resource]) -> list[Resource]:
    return [r for r in resources if r.type in S3_BUCKETS or r.type == OSS_BUCKET]


BucketCheck = Callable[[Resource, Sequence[Resource]], list[str]]


def _check_buckets(resources: Sequence[Resource], check: BucketCheck) -> list[Violation]:
    return [Violation(msg, bucket) for bucket in _buckets(resources) for msg in check(bucket, resources)]


def _private(bucket: Resource, resources: Sequence[Resource]) -> list[str]:
    found = []
    acl = bucket.props.get("acl")
    if isinstance(acl, str) and acl in PUBLIC_ACLS:
        found.append(f"acl is {acl!r}")
    for acl_resource in _companions(resources, (*S3_ACLS, OSS_ACL), bucket):
        acl = acl_resource.props.get("acl")
        if isinstance(acl, str) and acl in PUBLIC_ACLS:
            found.append(f"{acl_resource.type.rsplit(':', 1)[-1]} {acl_resource.name} sets acl {acl!r}")
    if bucket.type in S3_BUCKETS:
        blocks = _companions(resources, S3_PUBLIC_ACCESS_BLOCK, bucket)
        if not blocks:
            found.append("has no BucketPublicAccessBlock")
        for block in blocks:
            off = [f for f in S3_BLOCK_FLAGS if not is_unknown(block.props.get(f)) and not truthy(block.props.get(f))]
            if off:
                found.append(f"BucketPublicAccessBlock {block.name} leaves {', '.join(off)} off")
    else:
        blocks = _companions(resources, (OSS_PUBLIC_ACCESS_BLOCK,), bucket)
        if not blocks:
            found.append("has no BucketPublicAccessBlock")
        for block in blocks:
            flag = block.props.get("blockPublicAccess")
            if not is_unknown(flag) and not truthy(flag):
                found.append(f"BucketPublicAccessBlock {block.name} has blockPublicAccess off")
    return found


def bucket_private(resources: Sequence[Resource], ctx: PolicyContext) -> list[Violation]:
    """Buckets are private: no public ACL, and public access blocked outright (S3 and OSS public access blocks)."""
    return _check_buckets(resources, _private)


def _versioned(bucket: Resource, resources: Sequence[Resource]) -> list[str]:
    if bucket.type in S3_BUCKETS:
        if truthy(get(bucket.props, "versioning.enabled")):
            return []
        for v in _companions(resources, S3_VERSIONING, bucket):
            status = get(v.props, "versioningConfiguration.status")
            if is_unknown(status) or status == "Enabled":
                return []
        return ["versioning is not enabled"]
    status = get(bucket.props, "versioning.status")
    if is_unknown(status) or status == "Enabled":
        return []
    for v in _companions(resources, (OSS_VERSIONING,), bucket):
        if v.props.get("status") in ("Enabled",) or is_unknown(v.props.get("status")):
            return []
    return ["versioning is not enabled"]


def bucket_versioning(resources: Sequence[Resource], ctx: PolicyContext) -> list[Violation]:
    """Buckets keep object versions (versioning enabled)."""
    return _check_buckets(resources, _versioned)


def _encrypted(bucket: Resource, resources: Sequence[Resource]) -> list[str]:
    if bucket.type in S3_BUCKETS:
        inline = "serverSideEncryptionConfiguration.rule.applyServerSideEncryptionByDefault.sseAlgorithm"
        algorithms = [get(bucket.props, inline)]
        for c in _companions(resources, S3_ENCRYPTION, bucket):
            rules = c.props.get("rules")
            if is_unknown(rules):
                return []
            algorithms += [get(r, "applyServerSideEncryptionByDefault.sseAlgorithm") for r in as_list(rules)]
    else:
        algorithms = [get(bucket.props, "serverSideEncryptionRule.sseAlgorithm")]
        algorithms += [c.props.get("sseAlgorithm") for c in _companions(resources, (OSS_ENCRYPTION,), bucket)]
    if any(is_unknown(a) or a in KMS_ALGORITHMS for a in algorithms):
        return []
    named = sorted({str(a) for a in algorithms if a})
    return [f"default encryption is {', '.join(named)}, not KMS" if named else "has no KMS default encryption"]


def bucket_encrypted(resources: Sequence[Resource], ctx: PolicyContext) -> list[Violation]:
    """Buckets encrypt every object by default with a KMS key the stack controls."""
    return _check_buckets(resources, _encrypted)


# --------------------------------------------------------------------------- registries and keys


def registry_immutable_tags(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """Registry tags are immutable (ECR IMMUTABLE, ACR EE tagImmutability)."""
    if resource_type == "aws:ecr/repository:Repository":
        mutability = props.get("imageTagMutability", "MUTABLE")
        if not is_unknown(mutability) and not str(mutability).startswith("IMMUTABLE"):
            return [f"imageTagMutability is {mutability!r}, not 'IMMUTABLE'"]
    elif resource_type == "alicloud:cs/registryEnterpriseRepo:RegistryEnterpriseRepo":
        flag = props.get("tagImmutability", False)
        if not is_unknown(flag) and not truthy(flag):
            return ["tagImmutability is not true"]
    elif resource_type == "alicloud:cr/repo:Repo":
        return ["is an ACR Personal Edition repository, which cannot make tags immutable; use ACR Enterprise Edition"]
    return []


def registry_scan_on_push(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """Every pushed image is scanned for known vulnerabilities (ECR scanOnPush, ACR EE image scanner)."""
    if resource_type == "aws:ecr/repository:Repository":
        scan = get(props, "imageScanningConfiguration.scanOnPush")
        if not is_unknown(scan) and not truthy(scan):
            return ["imageScanningConfiguration.scanOnPush is not true"]
    elif resource_type == "alicloud:cr/registryEnterpriseInstance:RegistryEnterpriseInstance":
        scanner = props.get("imageScanner")
        if not is_unknown(scanner) and scanner not in ("ACR", "SAS"):
            return [f"imageScanner is {scanner!r}; set 'ACR' (Trivy) or 'SAS' so pushed images are scanned"]
    return []


def kms_rotation(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """Symmetric KMS keys rotate their key material automatically (yearly)."""
    if resource_type == "aws:kms/key:Key":
        spec = props.get("customerMasterKeySpec", "SYMMETRIC_DEFAULT")
        rotation = props.get("enableKeyRotation", False)
        if spec == "SYMMETRIC_DEFAULT" and not is_unknown(rotation) and not truthy(rotation):
            return ["enableKeyRotation is not true"]
    elif resource_type == "alicloud:kms/key:Key":
        spec = str(props.get("keySpec", "Aliyun_AES_256"))
        rotation = props.get("automaticRotation", "Disabled")
        if spec.startswith(("Aliyun_AES", "Aliyun_SM4")) and not is_unknown(rotation) and rotation != "Enabled":
            return [f"automaticRotation is {rotation!r}, not 'Enabled'"]
    return []


# --------------------------------------------------------------------------- IAM / RAM

_POLICY_DOCUMENTS = {
    "aws:iam/policy:Policy": ("policy",),
    "aws:iam/rolePolicy:RolePolicy": ("policy",),
    "aws:iam/userPolicy:UserPolicy": ("policy",),
    "aws:iam/groupPolicy:GroupPolicy": ("policy",),
    "alicloud:ram/policy:Policy": ("policyDocument", "document"),
}
_AWS_ATTACHMENTS = ("aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
                    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
                    "aws:iam/policyAttachment:PolicyAttachment")
_RAM_ATTACHMENTS = ("alicloud:ram/rolePolicyAttachment:RolePolicyAttachment",
                    "alicloud:ram/userPolicyAttachment:UserPolicyAttachment",
                    "alicloud:ram/groupPolicyAttachment:GroupPolicyAttachment")
ADMIN_POLICIES = ("AdministratorAccess",)


def wildcard_actions(document: Any) -> list[str]:
    """Allow statements that grant '*', '<service>:*' or use NotAction, as readable findings."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return []
    if not isinstance(document, Mapping):
        return []
    found = []
    for i, statement in enumerate(as_list(document.get("Statement"))):
        if not isinstance(statement, Mapping) or str(statement.get("Effect", "")).lower() != "allow":
            continue
        label = statement.get("Sid") or f"statement {i}"
        if "NotAction" in statement:
            found.append(f"{label} allows NotAction, i.e. every action not listed")
        for action in as_list(statement.get("Action")):
            if isinstance(action, str) and (action == "*" or action.endswith(":*")):
                found.append(f"{label} allows {action!r}")
    return found


def iam_no_wildcard_actions(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """IAM/RAM policies name the actions they allow; no '*' or 'service:*', no administrator policies."""
    for key in _POLICY_DOCUMENTS.get(resource_type, ()):
        if known(props.get(key)):
            return wildcard_actions(props[key])
    if resource_type == "aws:iam/role:Role":
        return [f"inline policy {p.get('name', i)!r}: {finding}"
                for i, p in enumerate(as_list(props.get("inlinePolicies"))) if isinstance(p, Mapping)
                for finding in wildcard_actions(p.get("policy"))]
    if resource_type in _AWS_ATTACHMENTS:
        arn = props.get("policyArn")
        if isinstance(arn, str) and arn.rsplit("/", 1)[-1] in ADMIN_POLICIES:
            return [f"attaches {arn}, which allows every action"]
    if resource_type in _RAM_ATTACHMENTS:
        name = props.get("policyName")
        if name in ADMIN_POLICIES and props.get("policyType", "System") == "System":
            return [f"attaches the system policy {name}, which allows every action"]
    return []


# --------------------------------------------------------------------------- cost allocation

REQUIRED_TAGS = ("project", "stack", "jurisdiction", "team", "cost-centre")
# The resources that carry most of the bill: they must be tagged even if the program forgot `tags` altogether.
MUST_TAG = frozenset({
    "aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup", "aws:ec2/instance:Instance",
    "aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", "aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip",
    "aws:ecr/repository:Repository", "alicloud:cs/managedKubernetes:ManagedKubernetes",
    "alicloud:cs/nodePool:NodePool", "alicloud:ecs/instance:Instance", "alicloud:oss/bucket:Bucket",
    "alicloud:vpc/natGateway:NatGateway", "alicloud:ecs/eipAddress:EipAddress",
    "alicloud:cr/registryEnterpriseInstance:RegistryEnterpriseInstance",
})


def cloud_cost_tags(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """Taggable cloud resources carry project, stack, jurisdiction, team and cost-centre tags."""
    if not resource_type.startswith(("aws:", "alicloud:")):
        return []
    tags = props.get("tags")
    if is_unknown(tags):
        return []
    if tags is None:
        return ["has no tags"] if resource_type in MUST_TAG else []
    if not isinstance(tags, Mapping):
        return []
    required = list(ctx.settings.get("requiredTags", REQUIRED_TAGS))
    found = []
    missing = [t for t in required if not tags.get(t)]
    if missing:
        found.append(f"tags lack {', '.join(missing)}")
    stack = tags.get("stack")
    if isinstance(stack, str) and ctx.stack.stack and stack != ctx.stack.stack:
        found.append(f"tag stack={stack!r} names another stack than {ctx.stack.stack!r}")
    return found
