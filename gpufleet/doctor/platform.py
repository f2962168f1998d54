"""Account-level preflight: service roles and authorisations, GPU quota, the Kubernetes version.

AWS: IAM service-linked roles, Service Quotas (vCPU-based EC2 quotas), EKS
DescribeClusterVersions. Alibaba Cloud: RAM roles behind ACK's cloud-resource
authorisations, ECS DescribeAccountAttributes (pay-as-you-go vCPU quota), ACK
DescribeKubernetesVersionMetadata.
"""

from __future__ import annotations

from typing import Any

from gpufleet.core.catalog import load_instance_catalog
from gpufleet.core.catalog_ack import ack_versions_catalog
from gpufleet.core.config import StackConfig

from .api import Api, ApiError
from .findings import Finding, failed, passed

# IAM service-linked roles a first EKS deployment needs (name -> service that owns it).
AWS_SERVICE_ROLES = {
    "AWSServiceRoleForAutoScaling": "autoscaling.amazonaws.com",   # named by the stack's KMS key policy
    "AWSServiceRoleForAmazonEKS": "eks.amazonaws.com",
    "AWSServiceRoleForAmazonEKSNodegroup": "eks-nodegroup.amazonaws.com",
    "AWSServiceRoleForElasticLoadBalancing": "elasticloadbalancing.amazonaws.com",
}
# EC2 vCPU quotas (Service Quotas, service code ec2) by instance family's first letter and capacity.
AWS_QUOTAS = {
    ("g", "on-demand"): ("L-DB2E81BA", "Running On-Demand G and VT instances"),
    ("p", "on-demand"): ("L-417A185B", "Running On-Demand P instances"),
    ("g", "spot"): ("L-3819A6DF", "All G and VT Spot Instance Requests"),
    ("p", "spot"): ("L-7212CCBC", "All P Spot Instance Requests"),
    ("standard", "on-demand"): ("L-1216C47A", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances"),
    ("standard", "spot"): ("L-34B43A08", "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests"),
}
# RAM roles ACK's cloud-resource authorisation creates, and why this stack needs each.
ALICLOUD_ROLES = {
    "AliyunCSDefaultRole": "ACK creates and manages the cluster's cloud resources",
    "AliyunCSManagedKubernetesRole": "the managed control plane reaches the VPC",
    "AliyunCSManagedNetworkRole": "Terway allocates ENIs and pod IPs",
    "AliyunCSManagedAcrRole": "aliyun-acr-credential-helper issues ACR pull secrets",
    "AliyunCSManagedSecurityRole": "Secrets are envelope-encrypted with the stack's KMS key",
    "AliyunCSManagedAutoScalerRole": "node pools scale (ESS scaling groups)",
    "AliyunECSDiskEncryptDefaultRole": "node system disks are encrypted with the stack's KMS key",
    "AliyunOOSLifecycleHook4CSRole": "node pools scale (lifecycle hooks of the scaling group)",
    "AliyunServiceRoleForAutoScaling": "node pools scale (ESS service-linked role)",
}
ALICLOUD_AUTHORISE = "https://ram.console.aliyun.com/role/authorize"


def aws_service_roles(api: Api, cfg: StackConfig) -> list[Finding]:
    found = []
    for role, service in AWS_SERVICE_ROLES.items():
        try:
            api.call("iam", "GetRole", role, RoleName=role)
            found.append(passed("service-role", role, "exists"))
        except ApiError as exc:
            if exc.code != "NoSuchEntity":
                raise
            found.append(failed("service-role", role, "missing in this account",
                                f"aws iam create-service-linked-role --aws-service-name {service}"))
    return found


def _aws_family(instance_type: str) -> str:
    letter = instance_type[0].lower()
    return letter if letter in ("g", "p") else "standard"


def aws_quotas(api: Api, cfg: StackConfig) -> list[Finding]:
    """vCPUs at the pools' maximum size, per quota they count against."""
    types = load_instance_catalog().cloud("aws").instance_types
    need: dict[tuple[str, str], int] = {}
    for pool in (cfg.system_pool, cfg.gpu_pool):
        key = (_aws_family(pool.instance_type), pool.capacity)
        need[key] = need.get(key, 0) + pool.max_size * types[pool.instance_type].vcpu
    found = []
    for key, vcpus in sorted(need.items()):
        code, name = AWS_QUOTAS[key]
        body = api.call("service-quotas", "GetServiceQuota", code, ServiceCode="ec2", QuotaCode=code)
        have = float((body.get("Quota") or {}).get("Value", 0))
        subject = f"{code} ({name}, {cfg.region})"
        if have >= vcpus:
            found.append(passed("gpu-quota" if key[0] != "standard" else "quota", subject,
                                f"{have:g} vCPUs >= {vcpus} needed at max size"))
        else:
            found.append(failed("gpu-quota" if key[0] != "standard" else "quota", subject,
                                f"{have:g} vCPUs < {vcpus} needed at max size",
                                f"aws service-quotas request-service-quota-increase --service-code ec2 "
                                f"--quota-code {code} --desired-value {vcpus} --region {cfg.region}"))
    return found


def aws_kubernetes_version(api: Api, cfg: StackConfig) -> list[Finding]:
    body = api.call("eks", "DescribeClusterVersions", "", versionStatus="STANDARD_SUPPORT")
    offered = sorted(v["clusterVersion"] for v in body.get("clusterVersions") or [])
    want = cfg.cluster.kubernetes_version
    if want in offered:
        return [passed("kubernetes-version", want, f"EKS offers it in {cfg.region}")]
    return [failed("kubernetes-version", want, f"EKS in {cfg.region} offers {', '.join(offered) or 'none'}",
                   f"set gpufleet:cluster.kubernetesVersion to one of {', '.join(offered)}")]


def alicloud_roles(api: Api, cfg: StackConfig) -> list[Finding]:
    found = []
    for role, why in ALICLOUD_ROLES.items():
        try:
            api.call("ram", "GetRole", role, RoleName=role)
            found.append(passed("service-role", role, "authorised"))
        except ApiError as exc:
            if not exc.code.startswith("EntityNotExist"):
                raise
            found.append(failed("service-role", role, f"not authorised ({why})",
                                f"authorise it once as the account owner at {ALICLOUD_AUTHORISE} "
                                "(ACK console: Cloud Resource Access Authorization)"))
    return found


def _postpaid_vcpus(body: dict[str, Any]) -> float:
    items = ((body.get("AccountAttributeItems") or {}).get("AccountAttributeItem")) or []
    values = [v for item in items if item.get("AttributeName") == "max-postpaid-instance-vcpu-count"
              for v in ((item.get("AttributeValues") or {}).get("ValueItem") or [])]
    return max((float(v.get("Value", 0)) for v in values), default=0.0)


def alicloud_quota(api: Api, cfg: StackConfig) -> list[Finding]:
    types = load_instance_catalog().cloud("alicloud").instance_types
    need = sum(p.max_size * types[p.instance_type].vcpu for p in (cfg.system_pool, cfg.gpu_pool))
    body = api.call("ecs", "DescribeAccountAttributes", "max-postpaid-instance-vcpu-count",
                    RegionId=cfg.region, AttributeName="max-postpaid-instance-vcpu-count")
    have = _postpaid_vcpus(body)
    subject = f"pay-as-you-go vCPUs ({cfg.region})"
    if have >= need:
        return [passed("gpu-quota", subject, f"{have:g} >= {need} needed at both pools' max size")]
    return [failed("gpu-quota", subject, f"{have:g} < {need} needed at both pools' max size",
                   f"raise 'ECS pay-as-you-go vCPU' in Quota Center (https://quotas.console.aliyun.com) "
                   f"to {need} for {cfg.region}")]


def alicloud_kubernetes_version(api: Api, cfg: StackConfig) -> list[Finding]:
    from gpufleet.core.catalog_ack import newest_patch

    body = api.call("cs", "DescribeKubernetesVersionMetadata", "ManagedKubernetes",
                    Region=cfg.region, ClusterType="ManagedKubernetes", Profile="Default")
    offered = [m["version"] for m in (body if isinstance(body, list) else body.get("versions") or [])
               if m.get("creatable", True)]
    want = cfg.cluster.kubernetes_version
    chosen = newest_patch(want, offered)
    if chosen:
        recorded = ack_versions_catalog()["versions"]
        note = "" if chosen in recorded else f" (catalog ack_versions.yaml lists {', '.join(recorded)}: refresh it)"
        return [passed("kubernetes-version", want, f"ACK offers {chosen} in {cfg.region}{note}")]
    return [failed("kubernetes-version", want, f"ACK in {cfg.region} offers {', '.join(offered) or 'none'}",
                   "set gpufleet:cluster.kubernetesVersion to an offered minor")]


PLATFORM_CHECKS = {
    "aws": (aws_service_roles, aws_quotas, aws_kubernetes_version),
    "alicloud": (alicloud_roles, alicloud_quota, alicloud_kubernetes_version),
}
