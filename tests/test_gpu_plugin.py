"""The NVIDIA device plugin objects: schema-valid for Kubernetes 1.33, on GPU nodes only, mirrored for China.

`plugin_params` is also used by test_checkov.py and test_model_server.py.
"""

from __future__ import annotations

from dataclasses import replace

import kubernetes_validate
import pytest

from gpufleet.core.gpu_plugin import NVIDIA_DEVICE_PLUGIN_IMAGE, GpuPluginRenderParams, render_gpu_plugin
from gpufleet.core.manifests import mirror_reference
from test_manifests import ACR, GPU_TOLERATIONS, K8S_VERSION


def plugin_params(registry: str | None = None) -> GpuPluginRenderParams:
    image = NVIDIA_DEVICE_PLUGIN_IMAGE if registry is None else mirror_reference(NVIDIA_DEVICE_PLUGIN_IMAGE, registry)
    return GpuPluginRenderParams(
        stack="prod-us",
        team="ml-platform",
        image=image,
        gpu_node_selector={"gpufleet.io/pool": "gpu"},
        gpu_tolerations=GPU_TOLERATIONS,
        kubernetes_version=K8S_VERSION,
    )


def test_device_plugin_validates_strictly():
    for obj in render_gpu_plugin(plugin_params()):
        assert kubernetes_validate.validate(obj, K8S_VERSION, strict=True) == "1.33"


def test_device_plugin_objects():
    objs = {f"{o['kind']}/{o['metadata']['name']}": o for o in render_gpu_plugin(plugin_params())}
    assert list(objs) == [
        "Namespace/nvidia-device-plugin",
        "ServiceAccount/nvidia-device-plugin",
        "DaemonSet/nvidia-device-plugin",
        "NetworkPolicy/default-deny",
    ]
    ns_labels = objs["Namespace/nvidia-device-plugin"]["metadata"]["labels"]
    assert ns_labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert ns_labels["pod-security.kubernetes.io/audit"] == "restricted"
    ds = objs["DaemonSet/nvidia-device-plugin"]
    assert ds["metadata"]["namespace"] == "nvidia-device-plugin"
    pod = ds["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"gpufleet.io/pool": "gpu"}
    assert pod["tolerations"] == GPU_TOLERATIONS
    assert pod["priorityClassName"] == "system-node-critical"
    (c,) = pod["containers"]
    assert c["image"] == NVIDIA_DEVICE_PLUGIN_IMAGE
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["volumes"] == [
        {"name": "device-plugin", "hostPath": {"path": "/var/lib/kubelet/device-plugins", "type": "Directory"}}
    ]
    skips = {k: v.split("=", 1)[0] for k, v in ds["metadata"]["annotations"].items()}
    assert skips == {
        "checkov.io/skip1": "CKV_K8S_8",
        "checkov.io/skip2": "CKV_K8S_9",
        "checkov.io/skip3": "CKV_K8S_23",
        "checkov.io/skip4": "CKV_K8S_40",
    }


def test_device_plugin_mirrored_for_china():
    params = plugin_params(registry=f"{ACR}/gpufleet")
    ds = render_gpu_plugin(params)[2]
    assert ds["spec"]["template"]["spec"]["containers"][0]["image"] == (
        f"{ACR}/gpufleet/k8s-device-plugin:v0.17.1"
        "@sha256:af31e2b7c7f89834c4e5219860def7ac2e49a207b3d4e8610d5a26772b7738e5"
    )


def test_device_plugin_never_in_kube_system():
    with pytest.raises(ValueError) as caught:
        replace(plugin_params(), namespace="kube-system")
    assert str(caught.value) == "device plugin namespace 'kube-system' must be its own DNS-1123 label"
