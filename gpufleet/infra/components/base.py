"""What every cloud module returns: one result shape over both clouds, per phase.

The platform phase's cloud component fills a `PlatformResult` (what the
platform stack exports); the workloads phase rebuilds a `ClusterResult` from
those exports through a StackReference. The model servers, the traffic layer
and the exports only ever see a `ClusterResult`, so nothing above this line
knows which cloud it runs on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from gpufleet.core import naming
from gpufleet.core.config import StackConfig

from gpufleet.core.scheduling import (  # noqa: F401  (re-exported for the cloud modules)
    GPU_MODEL_LABEL, GPU_TAINT_EFFECT, GPU_TAINT_KEY, GPU_TAINT_VALUE, MODEL_NAMESPACE_PREFIX,
    MODEL_SERVER_SA_SUBJECT, MODEL_SERVER_SERVICE_ACCOUNT, POOL_LABEL, gpu_node_selector, gpu_tolerations, pool_labels,
)


def resource_name(cfg: StackConfig, suffix: str = "") -> str:
    """Cloud-side names: project-stack[-suffix] (see gpufleet.core.naming)."""
    return naming.resource_name(cfg.stack, suffix)


@dataclass(frozen=True)
class PlatformResult:
    """What the platform stack exports for the workloads stack (and for people).

    `access` holds the cloud's own inputs for a fresh kubeconfig (EKS endpoint
    and CA; the ACK cluster id): never a credential.
    """

    cluster_name: pulumi.Output[str]
    registry_url: pulumi.Output[str]
    weights_bucket_url: pulumi.Output[str]
    # Identity the model-server service account assumes to read weights
    # (IRSA role ARN on AWS, RRSA role ARN on Alibaba Cloud).
    weights_reader_role_arn: pulumi.Output[str]
    vpc_id: pulumi.Output[str]
    access: dict[str, pulumi.Input[Any]] = field(default_factory=dict)
    # Registry product facts a finance reader needs (edition, billing, refund warning).
    registry: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AlicloudExtras:
    """What components after the cluster need from ACK: its id, RRSA's OIDC provider, the SLS project."""

    cluster_id: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer_url: pulumi.Output[str]
    log_project: pulumi.Output[str]


@dataclass(frozen=True)
class ClusterResult:
    """The workloads phase's view of the platform: an explicit provider built fresh each run."""

    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]  # always a secret
    provider: k8s.Provider
    gpu_node_selector: dict[str, str]
    gpu_tolerations: list[dict[str, str]]
    registry_url: pulumi.Output[str]
    weights_bucket_url: pulumi.Output[str]
    weights_reader_role_arn: pulumi.Output[str]
    vpc_id: pulumi.Output[str]
    alicloud: AlicloudExtras | None = None
