"""AWS: EKS with the VPC CNI, ECR, S3, Route 53; every stack outside mainland China."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from gpufleet.core.clouds.base import Cloud, tag_string

# CloudWatch Logs accepts only these retention periods (days).
CLOUDWATCH_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
                             1096, 1827, 2192, 2557, 2922, 3288, 3653)


@dataclass(frozen=True)
class Aws(Cloud):
    def registry_billing(self) -> dict[str, Any]:
        from gpufleet.core.registry_billing import ECR_BILLING
        return dict(ECR_BILLING)

    def weights_fetch_command(self, src: str, dest: str) -> list[str]:
        return ["aws", "s3", "sync", "--only-show-errors", "--no-progress", src, dest]

    def workload_identity(self, stack: str, role_token: str) -> tuple[dict[str, str], dict[str, str]]:
        return {"eks.amazonaws.com/role-arn": role_token}, {}  # IRSA

    def load_balancer_annotations(self, stack: str, tags: Mapping[str, str], *, public: bool) -> dict[str, str]:
        """An NLB from the cluster's built-in service controller (no AWS Load Balancer Controller needed)."""
        annotations = {
            "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
            "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true",
            "service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags": tag_string(tags),
        }
        if not public:
            annotations["service.beta.kubernetes.io/aws-load-balancer-internal"] = "true"
        return annotations

    def stockout_alert(self, labels: Mapping[str, str], runbook: str) -> dict[str, Any]:
        """Karpenter reports EC2's InsufficientCapacityError per launch attempt."""
        return {
            "alert": "KarpenterInsufficientCapacity",
            "expr": 'sum(increase(karpenter_cloudprovider_errors_total{error="InsufficientCapacityError"}[15m])) > 0',
            "labels": {**labels, "severity": "warning"},
            "annotations": {"summary": "EC2 has no capacity for some allowed GPU instance types or zones",
                            "description": "Karpenter fell back to other types, zones or capacity types; check "
                                           "which offerings fail and widen gpuPool.instanceTypes if needed.",
                            "runbook_url": runbook}}

    def check_service_cidr_prefix(self, prefixlen: int) -> str | None:
        return None if 12 <= prefixlen <= 24 else "EKS needs a prefix between /12 and /24"

    def log_retention_days(self) -> tuple[int, ...] | None:
        return CLOUDWATCH_RETENTION_DAYS


AWS = Aws(
    name="aws", title="AWS", jurisdiction="global", region_key="aws:region",
    bucket_scheme="s3://", bucket_region_env="AWS_REGION", billing_currency="USD",
    dns_service="route53", dns_ttl_seconds=60, nat_per_zone=True, public_api_endpoint=True,
    needs_pod_cidr=False, pod_network="the VPC CNI gives pods VPC addresses",
    gpu_limit_unit="gpus", metrics_remote_write="amp", remote_write_sigv4=True, needs_metrics_server=True,
    default_weights_fetcher=True, weights_fetcher_hint="an image with the AWS CLI", bucket_service="S3",
    log_service="CloudWatch Logs",
)
