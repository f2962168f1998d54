"""Alibaba Cloud: ACK Pro with Terway, ACR Enterprise, OSS, Alibaba Cloud DNS; mainland China stacks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from gpufleet.core.clouds.base import Cloud, tag_string
from gpufleet.core.naming import acr_vpc_host, resource_name


@dataclass(frozen=True)
class Alicloud(Cloud):
    def registry_billing(self) -> dict[str, Any]:
        from gpufleet.core.registry_billing import ACR_BILLING
        return dict(ACR_BILLING)

    def registry_host(self, stack: str, region: str) -> str | None:
        """ACR's VPC endpoint is named after the stack, so config checks can use it before deploy."""
        return acr_vpc_host(stack, region)

    def weights_fetch_command(self, src: str, dest: str) -> list[str]:
        return ["ossutil", "cp", "--recursive", "--update", src, dest]

    def role_annotations(self, role_name: str) -> dict[str, str]:
        """ACK RRSA: the pod-identity webhook projects an OIDC token for this RAM role."""
        return {"pod-identity.alibabacloud.com/role-name": role_name}

    def workload_identity(self, stack: str, role_token: str) -> tuple[dict[str, str], dict[str, str]]:
        # ACK RRSA: the pod-identity webhook injects the OIDC token for this role.
        return ({"pod-identity.alibabacloud.com/role-name": resource_name(stack, "weights-reader")[:64]},
                {"pod-identity.alibabacloud.com/injection": "on"})

    def stockout_alert(self, labels: Mapping[str, str], runbook: str) -> dict[str, Any]:
        """ACK's cluster-autoscaler counts the scale-ups ESS could not fulfil."""
        return {
            "alert": "ClusterAutoscalerScaleUpFailing",
            "expr": "sum(increase(cluster_autoscaler_failed_scale_ups_total[15m])) > 0",
            "labels": {**labels, "severity": "warning"},
            "annotations": {"summary": "ACK's cluster-autoscaler failed to add nodes to a node pool",
                            "description": "ESS could not launch any listed instance type in the pool's zones; "
                                           "check the scaling activity and widen gpuPool.instanceTypes.",
                            "runbook_url": runbook}}

    def load_balancer_annotations(self, stack: str, tags: Mapping[str, str], *, public: bool) -> dict[str, str]:
        """A pay-by-CLCU CLB from ACK's cloud controller manager (pay-by-specification CLBs are no longer sold)."""
        return {
            "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type": "internet" if public else "intranet",
            "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-instance-charge-type": "PayByCLCU",
            "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-name": f"gpufleet-{stack}-gateway",
            "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-additional-resource-tags": tag_string(tags),
        }


ALICLOUD = Alicloud(
    name="alicloud", title="Alibaba Cloud", jurisdiction="cn", region_key="alicloud:region",
    bucket_scheme="oss://", bucket_region_env="OSS_REGION", billing_currency="CNY",
    # the free Alibaba Cloud DNS edition allows no TTL below 600 s
    dns_service="alidns", dns_ttl_seconds=600, nat_per_zone=False, public_api_endpoint=False,
    needs_pod_cidr=True, pod_network="ACK Terway pod vSwitches, a VPC secondary CIDR block",
    gpu_limit_unit="nodes", metrics_remote_write="arms", remote_write_sigv4=False, needs_metrics_server=False,
    default_weights_fetcher=False, weights_fetcher_hint="an image with ossutil 2.x in the stack's ACR, pinned by digest",
    bucket_service="OSS", log_service="SLS",
)
