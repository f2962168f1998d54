"""What every cloud module returns: one result shape over both clouds.

The model servers, the traffic layer and the exports only ever see a
`ClusterResult`, so nothing above this line knows which cloud it runs on.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra import naming
from infra.config import StackConfig

# The GPU pool's taint and labels, from one place: the node pools set them and
# the model-server pods select/tolerate them.
GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_TAINT_VALUE = "present"
GPU_TAINT_EFFECT = "NoSchedule"
POOL_LABEL = "gpufleet.io/pool"
GPU_MODEL_LABEL = "gpufleet.io/gpu-model"


def pool_labels(cfg: StackConfig, pool: str) -> dict[str, str]:
    labels = {POOL_LABEL: pool, "gpufleet.io/stack": cfg.stack}
    if pool == "gpu":
        labels[GPU_MODEL_LABEL] = cfg.gpu_model
        labels["nvidia.com/gpu.present"] = "true"
    return labels


def gpu_node_selector(cfg: StackConfig) -> dict[str, str]:
    return {POOL_LABEL: "gpu", GPU_MODEL_LABEL: cfg.gpu_model}


def gpu_tolerations() -> list[dict[str, str]]:
    return [{"key": GPU_TAINT_KEY, "operator": "Equal", "value": GPU_TAINT_VALUE, "effect": GPU_TAINT_EFFECT}]


def resource_name(cfg: StackConfig, suffix: str = "") -> str:
    """Cloud-side names: project-stack[-suffix] (see infra.naming)."""
    return naming.resource_name(cfg.stack, suffix)


@dataclass(frozen=True)
class ClusterResult:
    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]  # always a secret
    provider: k8s.Provider
    gpu_node_selector: dict[str, str]
    gpu_tolerations: list[dict[str, str]]
    registry_url: pulumi.Output[str]
    weights_bucket_url: pulumi.Output[str]
    # Identity the model-server service account assumes to read weights
    # (IRSA role ARN on AWS, RRSA role ARN on Alibaba Cloud).
    weights_reader_role_arn: pulumi.Output[str]
    vpc_id: pulumi.Output[str]

# Model-server pods read weights as this Kubernetes service account (any
# release namespace); the IRSA/RRSA trust policies are scoped to it.
MODEL_NAMESPACE_PREFIX = "llm-"
MODEL_SERVER_SERVICE_ACCOUNT = "model-server"
MODEL_SERVER_SA_SUBJECT = f"system:serviceaccount:{MODEL_NAMESPACE_PREFIX}*:{MODEL_SERVER_SERVICE_ACCOUNT}"
