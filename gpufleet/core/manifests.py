"""Render the Kubernetes objects of one model-server release (the GPU device plugin: `gpu_plugin`).

Pure: parameters in, plain dicts out, no Pulumi. The YAML under `k8s/` fixes the
shape and the hardening and stays cloud-agnostic; this module computes the
values (arguments, env, sizes, probe budgets) and the cloud modules supply what
differs per cloud (registry, bucket, node labels, identity annotations).

The templates use the structural tags of `gpufleet.core.templates`; values that
only exist at deploy time are `{{token}}` strings the Pulumi component binds.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from gpufleet.core import clouds
from gpufleet.core.assets import asset, packaged_dir
from gpufleet.core.autoscaling import ScalingPlan, scaled_object
from gpufleet.core.model_catalog import ModelEntry
from gpufleet.core.release_config import ResourceOverrides, WeightsSource, parse_image
from gpufleet.core.templates import render_template

TEMPLATES_DIR = packaged_dir("k8s")  # the installed templates; a project's own k8s/<file> wins (asset())
PORT = 8000
RUN_AS_USER = 10001  # checkov CKV_K8S_40 wants >= 10000, clear of host UIDs
MODELS_DIR = "/models"
CACHE_DIR = "/cache"
WEIGHTS_PREFIX = "models"  # bucket layout: <bucket>/models/<catalog model name>/
# Throughput assumptions behind the probe and rollout budgets (see startup_budget_seconds).
LOAD_SECONDS_PER_GB = 15
DOWNLOAD_SECONDS_PER_GB = 20
BUCKET_FETCH_SECONDS_PER_GB = 5
MIN_STARTUP_SECONDS = 600
STARTUP_PERIOD_SECONDS = 10
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
K8S_VERSION = re.compile(r"^v?(1\.\d+)(\.\d+)?$")


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Resources:
    """CPU/memory of the vLLM container (Kubernetes quantities)."""

    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str


@dataclass(frozen=True)
class WeightsFetcher:
    """The init container that copies bucket weights: an image with the cloud's CLI.

    AWS: an `aws` CLI image (`aws s3 sync`); Alibaba: an image with ossutil 2.x
    (`ossutil cp`). `env` carries what the CLI needs (e.g. region, endpoint);
    `command` replaces the derived command when the image needs another one.
    """

    image: str
    env: Mapping[str, str] = field(default_factory=dict)
    command: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ReleaseRenderParams:
    """Everything one release's manifests depend on. One namespace per release."""

    stack: str
    team: str
    cloud: Literal[clouds.NAMES]  # type: ignore[valid-type]
    jurisdiction: Literal["cn", "global"]
    namespace: str
    release: str
    model: ModelEntry
    image: str
    weights_source: WeightsSource
    # bucket: the bucket URL of this model ('s3://b/models/<name>', 'oss://...', may hold {{tokens}});
    # modelscope/huggingface: the repo id is taken from the catalog and this is ignored.
    weights_source_url: str | None
    tensor_parallel_size: int
    max_model_len: int
    gpu_memory_utilization: float
    served_model_name: str
    replicas: int
    min_replicas: int
    max_replicas: int
    gpu_node_selector: Mapping[str, str]
    gpu_tolerations: Sequence[Mapping[str, str]]
    resources: Resources
    kubernetes_version: str
    dtype: Literal["auto", "half"] = "auto"
    weights_fetcher: WeightsFetcher | None = None
    service_account: str = "model-server"
    service_account_annotations: Mapping[str, str] = field(default_factory=dict)
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    client_namespaces: tuple[str, ...] = ("gateway",)
    monitoring_namespace: str = "monitoring"
    egress_cidrs: tuple[str, ...] = ("0.0.0.0/0",)
    # KEDA scaling on LLM signals; None when min_replicas == max_replicas (fixed size).
    scaling: ScalingPlan | None = None

    def __post_init__(self) -> None:
        names = (self.namespace, self.release, self.service_account, self.monitoring_namespace, *self.client_namespaces)
        for name in names:
            if len(name) > 63 or not DNS_LABEL.match(name):
                raise ValueError(f"{name!r} is not a DNS-1123 label")
        if not K8S_VERSION.match(self.kubernetes_version):
            raise ValueError(f"kubernetes_version {self.kubernetes_version!r} is not like '1.33'")
        lowest = 0 if self.scaling is not None and self.scaling.scale_to_zero else 1
        if not lowest <= self.min_replicas <= self.replicas <= self.max_replicas:
            raise ValueError(
                f"need {lowest} <= min_replicas <= replicas <= max_replicas "
                f"(got {self.min_replicas}, {self.replicas}, {self.max_replicas})"
            )
        if (self.scaling is None) != (self.min_replicas == self.max_replicas):
            raise ValueError("an autoscaled release (min_replicas != max_replicas) needs a scaling plan, and only it")
        if self.weights_source == "bucket":
            if self.weights_fetcher is None or not self.weights_source_url:
                raise ValueError("bucket weights need weights_source_url and weights_fetcher")
            scheme = clouds.get(self.cloud).bucket_scheme  # ValueError names the known clouds
            if not (self.weights_source_url.startswith(scheme) or self.weights_source_url.startswith("{{")):
                raise ValueError(f"{self.cloud} bucket URL must start with {scheme} (got {self.weights_source_url!r})")


# --------------------------------------------------------------------------- derived values


def mirror_reference(image: str, registry: str) -> str:
    """The same image (tag and digest kept) under another registry path, e.g. the stack's ACR.

    Digests survive only a byte-for-byte copy (`crane copy`, `skopeo copy --all`).
    """
    ref = parse_image(image)
    name = ref.repository.rsplit("/", 1)[-1]
    return f"{registry.rstrip('/')}/{name}" + (f":{ref.tag}" if ref.tag else "") + (
        f"@{ref.digest}" if ref.digest else ""
    )


def weights_source_url(source: WeightsSource, *, bucket_url: str, model: ModelEntry) -> str | None:
    """Where a release's weights live: '<bucket_url>/models/<model>' for bucket, else None (repo id)."""
    if source != "bucket":
        return None
    return f"{bucket_url.rstrip('/')}/{WEIGHTS_PREFIX}/{model.name}"


def startup_budget_seconds(weights_gb: float, *, downloads_in_process: bool) -> int:
    """Seconds a replica may take from container start to healthy.

    Loading safetensors from the node's disk into GPU memory plus torch.compile and
    CUDA-graph capture runs at roughly 70 MB/s end to end on the slower nodes
    (15 s/GB); when vLLM itself downloads from ModelScope/Hugging Face, ~50 MB/s more
    (20 s/GB). 72B bf16 (145 GB) from a bucket gets 36 minutes; never under 10.
    """
    per_gb = LOAD_SECONDS_PER_GB + (DOWNLOAD_SECONDS_PER_GB if downloads_in_process else 0)
    return max(MIN_STARTUP_SECONDS, math.ceil(weights_gb * per_gb))


def rollout_seconds(params: ReleaseRenderParams) -> int:
    """Deployment progress deadline: bucket copy (~200 MB/s) + startup budget + 5 minutes scheduling."""
    fetch = math.ceil(params.model.weights_gb * BUCKET_FETCH_SECONDS_PER_GB) if params.weights_source == "bucket" else 0
    return fetch + startup_budget_seconds(
        params.model.weights_gb, downloads_in_process=params.weights_source != "bucket"
    ) + 300


def models_volume_gib(model: ModelEntry) -> int:
    """Weights plus 10% and 5 GiB for tokenizer files and partial downloads."""
    return math.ceil(model.weights_gib * 1.1) + 5


def ephemeral_storage_gib(model: ModelEntry) -> int:
    """Node disk one replica claims: the models volume plus the cache (20 GiB) and /tmp (10 GiB) volumes.

    The node's disk must also hold the images (the vLLM image is ~10 GiB compressed).
    """
    return models_volume_gib(model) + 30


def shm_gib(tensor_parallel_size: int) -> int:
    """/dev/shm for tensor-parallel workers: 2 GiB per GPU, at most 16 GiB."""
    return min(16, 2 * tensor_parallel_size)


def default_resources(
    *,
    tensor_parallel_size: int,
    gpus_per_node: int,
    node_vcpu: int,
    node_memory_gib: int,
    overrides: ResourceOverrides | None = None,
) -> Resources:
    """The replica's share of its node by GPUs: request 75%, limit 100% CPU / 90% memory.

    The 25%/10% left over covers the kubelet's reservation and the node's DaemonSets.
    `overrides` (from the release config) replace single values.
    """
    share = tensor_parallel_size / gpus_per_node
    derived = Resources(
        cpu_request=f"{math.floor(node_vcpu * share * 0.75 * 10) * 100}m",
        cpu_limit=f"{math.floor(node_vcpu * share * 1000)}m",
        memory_request=f"{math.floor(node_memory_gib * share * 0.75)}Gi",
        memory_limit=f"{math.floor(node_memory_gib * share * 0.9)}Gi",
    )
    if overrides is None:
        return derived
    return Resources(
        cpu_request=overrides.cpu or derived.cpu_request,
        cpu_limit=overrides.cpu_limit or derived.cpu_limit,
        memory_request=overrides.memory or derived.memory_request,
        memory_limit=overrides.memory_limit or derived.memory_limit,
    )


def common_labels(params: ReleaseRenderParams) -> dict[str, str]:
    """Recommended app labels plus the gpufleet.io cost-allocation labels."""
    tag = parse_image(params.image).tag or "unknown"
    labels = {
        "app.kubernetes.io/name": "vllm",
        "app.kubernetes.io/instance": params.release,
        "app.kubernetes.io/version": tag[:63],
        "app.kubernetes.io/component": "model-server",
        "app.kubernetes.io/part-of": "gpufleet",
        "app.kubernetes.io/managed-by": "pulumi",
        "gpufleet.io/team": params.team,
        "gpufleet.io/stack": params.stack,
        "gpufleet.io/model": params.model.name,
        "gpufleet.io/release": params.release,
    }
    check_label_values(labels)
    return labels


def selector_labels(params: ReleaseRenderParams) -> dict[str, str]:
    return {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": params.release}


def check_label_values(labels: Mapping[str, str]) -> None:
    for key, value in labels.items():
        if len(value) > 63 or not _LABEL_VALUE.match(value):
            raise ValueError(f"label {key}={value!r} is not a valid label value")


def model_argument(params: ReleaseRenderParams) -> str:
    """What `vllm serve` loads: the fetched directory, or the repo id it downloads itself."""
    if params.weights_source == "bucket":
        return f"{MODELS_DIR}/{params.model.name}"
    if params.weights_source == "modelscope":
        return params.model.modelscope_id
    return params.model.huggingface_id


def vllm_args(params: ReleaseRenderParams) -> list[str]:
    args = [
        model_argument(params),
        "--host=0.0.0.0",
        f"--port={PORT}",
        f"--served-model-name={params.served_model_name}",
        f"--tensor-parallel-size={params.tensor_parallel_size}",
        f"--max-model-len={params.max_model_len}",
        f"--gpu-memory-utilization={params.gpu_memory_utilization}",
    ]
    if params.dtype != "auto":
        args.append(f"--dtype={params.dtype}")
    if params.weights_source != "bucket":
        args.append(f"--download-dir={MODELS_DIR}/hub")
    return args


def vllm_env(params: ReleaseRenderParams) -> list[dict[str, str]]:
    """Writable cache paths for a read-only root, no telemetry, and offline hubs unless downloading from HF."""
    env = {
        "HOME": CACHE_DIR,
        "XDG_CACHE_HOME": CACHE_DIR,
        "XDG_CONFIG_HOME": f"{CACHE_DIR}/config",
        "HF_HOME": f"{CACHE_DIR}/huggingface",
        "VLLM_CACHE_ROOT": f"{CACHE_DIR}/vllm",
        "VLLM_CONFIG_ROOT": f"{CACHE_DIR}/vllm-config",
        "TRITON_CACHE_DIR": f"{CACHE_DIR}/triton",
        # getpass.getuser() (torch.compile) fails for a UID without a passwd entry unless USER is set.
        "USER": "vllm",
        "LOGNAME": "vllm",
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
    }
    # China stacks never reach Hugging Face; bucket weights need no hub at all.
    if params.jurisdiction == "cn" or params.weights_source != "huggingface":
        env["HF_HUB_OFFLINE"] = "1"
        env["TRANSFORMERS_OFFLINE"] = "1"
    if params.weights_source == "modelscope":
        env["VLLM_USE_MODELSCOPE"] = "True"
        env["MODELSCOPE_CACHE"] = f"{MODELS_DIR}/modelscope"
    return [{"name": k, "value": v} for k, v in env.items()]


def weights_fetch_command(cloud: str, source_url: str, model: ModelEntry) -> list[str]:
    """Copy `<source_url>/` to `/models/<model>/`, skipping files already there."""
    dest = f"{MODELS_DIR}/{model.name}/"
    src = source_url.rstrip("/") + "/"
    return clouds.get(cloud).weights_fetch_command(src, dest)


def _init_containers(params: ReleaseRenderParams) -> list[dict[str, Any]] | None:
    if params.weights_source != "bucket":
        return None
    fetcher = params.weights_fetcher
    assert fetcher is not None and params.weights_source_url  # checked in __post_init__
    env = {"HOME": CACHE_DIR, **fetcher.env}
    (container,) = render_template(
        asset("k8s", "model-server/fetch-weights.yaml"),
        {
            "fetcher_image": fetcher.image,
            "fetch_command": list(fetcher.command)
            if fetcher.command
            else weights_fetch_command(params.cloud, params.weights_source_url, params.model),
            "fetcher_env": [{"name": k, "value": v} for k, v in env.items()],
        },
    )
    return [container]


def _vllm_resources(params: ReleaseRenderParams) -> dict[str, Any]:
    ephemeral = ephemeral_storage_gib(params.model)
    return {
        "requests": {
            "cpu": params.resources.cpu_request,
            "memory": params.resources.memory_request,
            "ephemeral-storage": f"{ephemeral}Gi",
        },
        "limits": {
            "cpu": params.resources.cpu_limit,
            "memory": params.resources.memory_limit,
            "nvidia.com/gpu": params.tensor_parallel_size,
        },
    }


def pss_version(kubernetes_version: str) -> str:
    """Pod Security Standard version label: the cluster's minor, e.g. 'v1.33'."""
    match = K8S_VERSION.match(kubernetes_version)
    if not match:
        raise ValueError(f"kubernetes_version {kubernetes_version!r} is not like '1.33'")
    return f"v{match.group(1)}"


def release_values(params: ReleaseRenderParams) -> dict[str, Any]:
    """The template parameters of one release."""
    budget = startup_budget_seconds(params.model.weights_gb, downloads_in_process=params.weights_source != "bucket")
    autoscaled = params.min_replicas != params.max_replicas
    return {
        "name": f"vllm-{params.release}",
        "namespace": params.namespace,
        "labels": common_labels(params),
        "selector": selector_labels(params),
        "namespace_extra_labels": dict(params.namespace_labels) or None,
        "pss_version": pss_version(params.kubernetes_version),
        "service_account": params.service_account,
        "service_account_annotations": dict(params.service_account_annotations) or None,
        "deployment_replicas": None if autoscaled else params.replicas,
        "progress_deadline_seconds": rollout_seconds(params),
        "port": PORT,
        "port_string": str(PORT),
        "run_as_user": RUN_AS_USER,
        "node_selector": dict(params.gpu_node_selector),
        "tolerations": [dict(t) for t in params.gpu_tolerations],
        "init_containers": _init_containers(params),
        "image": params.image,
        "vllm_args": vllm_args(params),
        "vllm_env": vllm_env(params),
        "vllm_resources": _vllm_resources(params),
        "startup_period_seconds": STARTUP_PERIOD_SECONDS,
        "startup_failure_threshold": math.ceil(budget / STARTUP_PERIOD_SECONDS),
        "models_size": f"{models_volume_gib(params.model)}Gi",
        "shm_size": f"{shm_gib(params.tensor_parallel_size)}Gi",
        "allowed_client_namespaces": sorted({*params.client_namespaces, params.monitoring_namespace}),
        "egress_peers": [{"ipBlock": {"cidr": cidr}} for cidr in params.egress_cidrs],
    }


# --------------------------------------------------------------------------- renderers

_RELEASE_TEMPLATES = (
    "namespace.yaml",
    "serviceaccount.yaml",
    "deployment.yaml",
    "service.yaml",
    "poddisruptionbudget.yaml",
    "networkpolicies.yaml",
)


def render_release(params: ReleaseRenderParams) -> list[dict[str, Any]]:
    """All objects of one release, namespace first; a KEDA ScaledObject when it autoscales."""
    values = release_values(params)
    objects: list[dict[str, Any]] = []
    for template in _RELEASE_TEMPLATES:
        objects.extend(render_template(asset("k8s", f"model-server/{template}"), values))
    if params.scaling is not None:
        objects.append(scaled_object(params.scaling, values["labels"]))
    return objects
