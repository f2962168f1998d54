"""What differs between clouds, as data and small methods on one class per cloud.

Core code asks the stack's cloud (`clouds.get(cfg.cloud)`) instead of branching on its
name; the infra layer binds each cloud to its Pulumi components. A third cloud is one
more module here (plus its catalog data and its components), not edits across the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


def tag_string(tags: Mapping[str, str]) -> str:
    """`k1=v1,k2=v2`, the form both clouds' load-balancer tag annotations take."""
    return ",".join(f"{k}={v}" for k, v in sorted(tags.items()))


@dataclass(frozen=True)
class Cloud:
    """One cloud's facts. Subclasses fill the fields and implement the methods."""

    name: str
    title: str
    # The jurisdiction whose stacks run on this cloud (cn: mainland China, global: the rest).
    jurisdiction: str
    # Pulumi provider config key holding the stack's region.
    region_key: str
    # URL scheme of the weights bucket (s3://, oss://) and the region variable its CLI reads.
    bucket_scheme: str
    bucket_region_env: str
    billing_currency: str
    # The DNS service holding the weighted public record, and its smallest TTL.
    dns_service: str
    dns_ttl_seconds: int
    # Network: pods get VPC addresses (no pod CIDR) or an overlay CIDR of their own; and why.
    needs_pod_cidr: bool
    pod_network: str
    # One NAT gateway (and its public IP) per zone, or one per stack.
    nat_per_zone: bool
    # True when a bucket-backed release may use the catalog's default weights fetcher image;
    # else what the stack's own image must hold.
    default_weights_fetcher: bool
    weights_fetcher_hint: str
    bucket_service: str
    log_service: str
    # The Kubernetes API server may have an allow-listed public endpoint.
    public_api_endpoint: bool
    # What the GPU node autoscaler's limit counts (Karpenter: GPUs; ACK node pools: nodes).
    gpu_limit_unit: str
    # Metrics: the managed Prometheus that takes remote write (and whether writes are SigV4-signed),
    # and whether the cluster lacks a metrics-server of its own.
    metrics_remote_write: str
    remote_write_sigv4: bool
    needs_metrics_server: bool

    def registry_host(self, stack: str, region: str) -> str | None:
        """The stack's own image registry host when the stack name decides it (None: known after deploy)."""
        return None

    def weights_fetch_command(self, src: str, dest: str) -> list[str]:
        raise NotImplementedError

    def workload_identity(self, stack: str, role_token: str) -> tuple[dict[str, str], dict[str, str]]:
        """(service-account annotations, namespace labels) that give pods the weights-reader role."""
        raise NotImplementedError

    def role_annotations(self, role_name: str) -> dict[str, str]:
        """Service-account annotations that give pods a cloud role named `role_name` ({} where none applies)."""
        return {}

    def load_balancer_annotations(self, stack: str, tags: Mapping[str, str], *, public: bool) -> dict[str, str]:
        """Service annotations for the L4 load balancer in front of the gateway."""
        raise NotImplementedError

    def stockout_alert(self, labels: Mapping[str, str], runbook: str) -> dict[str, Any]:
        """The Prometheus alert rule for the node autoscaler's own "no capacity" signal."""
        raise NotImplementedError

    def check_service_cidr_prefix(self, prefixlen: int) -> str | None:
        """Why the cluster's service CIDR prefix is not allowed, or None."""
        return None

    def log_retention_days(self) -> tuple[int, ...] | None:
        """The only retention periods the cloud's log service accepts (None: any)."""
        return None

    def registry_billing(self) -> dict[str, Any]:
        """How the stack's registry is bought (edition, billing, refund warning); see core/registry_billing.py."""
        raise NotImplementedError
