"""Where model servers run and who they are, from one place.

The node pools set the GPU taint and labels, the model-server pods select and
tolerate them, and the IRSA/RRSA trust policies name the model-server service
account; all of them read these definitions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gpufleet.core.config import StackConfig

GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_TAINT_VALUE = "present"
GPU_TAINT_EFFECT = "NoSchedule"
POOL_LABEL = "gpufleet.io/pool"
GPU_MODEL_LABEL = "gpufleet.io/gpu-model"

# Model-server pods read weights as this Kubernetes service account, one
# namespace per release; the IRSA/RRSA trust policies are scoped to it.
MODEL_NAMESPACE_PREFIX = "llm-"
MODEL_SERVER_SERVICE_ACCOUNT = "model-server"
MODEL_SERVER_SA_SUBJECT = f"system:serviceaccount:{MODEL_NAMESPACE_PREFIX}*:{MODEL_SERVER_SERVICE_ACCOUNT}"


def pool_labels(cfg: "StackConfig", pool: str) -> dict[str, str]:
    labels = {POOL_LABEL: pool, "gpufleet.io/stack": cfg.stack}
    if pool == "gpu":
        labels[GPU_MODEL_LABEL] = cfg.gpu_model
        labels["nvidia.com/gpu.present"] = "true"
    return labels


def gpu_node_selector(cfg: "StackConfig") -> dict[str, str]:
    return {POOL_LABEL: "gpu", GPU_MODEL_LABEL: cfg.gpu_model}


def gpu_tolerations() -> list[dict[str, str]]:
    return [{"key": GPU_TAINT_KEY, "operator": "Equal", "value": GPU_TAINT_VALUE, "effect": GPU_TAINT_EFFECT}]


def release_namespace(release: str) -> str:
    return f"{MODEL_NAMESPACE_PREFIX}{release}"
