"""The NVIDIA device plugin DaemonSet for a stack's GPU pool (pure: parameters in, dicts out).

The same templates (`k8s/nvidia-device-plugin/`) on both clouds; China stacks
pass the image mirrored into their ACR (`manifests.mirror_reference`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gpufleet.core.assets import asset
from gpufleet.core.manifests import DNS_LABEL, K8S_VERSION, check_label_values, pss_version
from gpufleet.core.release_config import parse_image
from gpufleet.core.templates import render_template

# Upstream device plugin, pinned; digest as published for v0.17.1 (verify with
# `crane digest nvcr.io/nvidia/k8s-device-plugin:v0.17.1` when bumping). China
# stacks mirror it into their ACR with `mirror_reference`.
NVIDIA_DEVICE_PLUGIN_IMAGE = (
    "nvcr.io/nvidia/k8s-device-plugin:v0.17.1"
    "@sha256:af31e2b7c7f89834c4e5219860def7ac2e49a207b3d4e8610d5a26772b7738e5"
)


@dataclass(frozen=True)
class GpuPluginRenderParams:
    """The NVIDIA device plugin DaemonSet for the GPU pool."""

    stack: str
    team: str
    image: str
    gpu_node_selector: Mapping[str, str]
    gpu_tolerations: Sequence[Mapping[str, str]]
    kubernetes_version: str
    namespace: str = "nvidia-device-plugin"

    def __post_init__(self) -> None:
        if self.namespace == "kube-system" or not DNS_LABEL.match(self.namespace):
            raise ValueError(f"device plugin namespace {self.namespace!r} must be its own DNS-1123 label")
        if not K8S_VERSION.match(self.kubernetes_version):
            raise ValueError(f"kubernetes_version {self.kubernetes_version!r} is not like '1.33'")


def render_gpu_plugin(params: GpuPluginRenderParams) -> list[dict[str, Any]]:
    """The NVIDIA device plugin in its own namespace, on GPU nodes only."""
    labels = {
        "app.kubernetes.io/name": "nvidia-device-plugin",
        "app.kubernetes.io/instance": "nvidia-device-plugin",
        "app.kubernetes.io/version": (parse_image(params.image).tag or "unknown")[:63],
        "app.kubernetes.io/component": "device-plugin",
        "app.kubernetes.io/part-of": "gpufleet",
        "app.kubernetes.io/managed-by": "pulumi",
        "gpufleet.io/team": params.team,
        "gpufleet.io/stack": params.stack,
    }
    check_label_values(labels)
    values = {
        "name": "nvidia-device-plugin",
        "namespace": params.namespace,
        "labels": labels,
        "selector": {"app.kubernetes.io/name": "nvidia-device-plugin"},
        "pss_version": pss_version(params.kubernetes_version),
        "image": params.image,
        "node_selector": dict(params.gpu_node_selector),
        "tolerations": [dict(t) for t in params.gpu_tolerations],
    }
    objects: list[dict[str, Any]] = []
    for template in ("namespace.yaml", "serviceaccount.yaml", "daemonset.yaml", "networkpolicy.yaml"):
        objects.extend(render_template(asset("k8s", f"nvidia-device-plugin/{template}"), values))
    return objects
