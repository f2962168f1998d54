"""From a validated release to the parameters its manifests are rendered from.

Pure (no Pulumi): the program, the offline preview and the manifest tests all
derive a release's render parameters here, so they cannot drift apart. Values
only known at deploy time stay `{{token}}`s that the ModelServer component binds.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from gpufleet.core.catalog import load_instance_catalog
from gpufleet.core.config import StackConfig
from gpufleet.core.moderation_stage import stage_enabled
from gpufleet.core.gpu_plugin import NVIDIA_DEVICE_PLUGIN_IMAGE, GpuPluginRenderParams
from gpufleet.core.manifests import ReleaseRenderParams, WeightsFetcher, default_resources, weights_source_url
from gpufleet.core import clouds
from gpufleet.core.release_config import Release, resolve_release, scaling_plan
from gpufleet.core.scheduling import MODEL_SERVER_SERVICE_ACCOUNT, gpu_node_selector, gpu_tolerations, release_namespace

IMAGES_FILE = Path(__file__).resolve().parent / "catalog" / "images.yaml"

# Deploy-time values, bound by gpufleet.infra.components.model_server.
BUCKET_TOKEN = "{{weights_bucket_url}}"
ROLE_ARN_TOKEN = "{{weights_reader_role_arn}}"
REGISTRY_TOKEN = "{{registry_url}}"


@lru_cache(maxsize=None)
def _images() -> dict:
    return yaml.safe_load(IMAGES_FILE.read_text(encoding="utf-8"))


def in_stack_registry(image: str) -> bool:
    """An image reference without '/' names a repository in the stack's own registry."""
    return "/" not in image


def fetcher_image(cfg: StackConfig) -> str | None:
    return cfg.weights_fetcher_image or (_images()["weights_fetcher"][cfg.cloud] or {}).get("image")


def _identity(cfg: StackConfig, release: str) -> tuple[dict[str, str], dict[str, str]]:
    """(service-account annotations, namespace labels) that give the pods the weights-reader role."""
    return clouds.get(cfg.cloud).workload_identity(cfg.stack, ROLE_ARN_TOKEN)


def release_params(cfg: StackConfig, name: str, release: Release) -> ReleaseRenderParams:
    resolved = resolve_release(name, release, gpu_model=cfg.gpu_model)
    node = load_instance_catalog().cloud(cfg.cloud).instance_types[cfg.gpu_pool.instance_type]
    annotations, ns_labels = _identity(cfg, name)
    image = f"{REGISTRY_TOKEN}/{release.image}" if in_stack_registry(release.image) else release.image
    fetcher = None
    if release.weights_source == "bucket":
        region_env = clouds.get(cfg.cloud).bucket_region_env
        fetcher = WeightsFetcher(image=fetcher_image(cfg) or "", env={region_env: cfg.region})
    return ReleaseRenderParams(
        stack=cfg.stack,
        team=cfg.team,
        cloud=cfg.cloud,
        jurisdiction=cfg.jurisdiction,
        namespace=release_namespace(name),
        release=name,
        model=resolved.model,
        image=image,
        weights_source=release.weights_source,
        weights_source_url=weights_source_url(release.weights_source, bucket_url=BUCKET_TOKEN, model=resolved.model),
        tensor_parallel_size=resolved.tensor_parallel_size,
        max_model_len=resolved.max_model_len,
        gpu_memory_utilization=release.gpu_memory_utilization,
        served_model_name=release.served_model_name or release.model.lower(),
        replicas=release.replicas,
        min_replicas=release.effective_min_replicas,
        max_replicas=release.effective_max_replicas,
        scaling=scaling_plan(name, release, weights_gb=resolved.model.weights_gb,
                             ttft_objective_s=cfg.slo.ttft_p95_ms / 1000),
        gpu_node_selector=gpu_node_selector(cfg),
        gpu_tolerations=gpu_tolerations(),
        resources=default_resources(tensor_parallel_size=resolved.tensor_parallel_size, gpus_per_node=cfg.gpus_per_node,
                                    node_vcpu=node.vcpu, node_memory_gib=node.memory_gib, overrides=release.resources),
        kubernetes_version=cfg.cluster.kubernetes_version,
        dtype=resolved.dtype,
        weights_fetcher=fetcher,
        service_account=MODEL_SERVER_SERVICE_ACCOUNT,
        service_account_annotations=annotations,
        namespace_labels=ns_labels,
        # With the moderation stage, only its proxy (and Prometheus) may reach vLLM, never the gateway.
        client_namespaces=() if stage_enabled(cfg) else ("gateway",),
    )


def gpu_plugin_params(cfg: StackConfig) -> GpuPluginRenderParams:
    return GpuPluginRenderParams(stack=cfg.stack, team=cfg.team, image=NVIDIA_DEVICE_PLUGIN_IMAGE,
                                 gpu_node_selector=gpu_node_selector(cfg), gpu_tolerations=gpu_tolerations(),
                                 kubernetes_version=cfg.cluster.kubernetes_version)
