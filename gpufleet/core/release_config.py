"""One model-server release: its config model, its resolution against the model catalog, and its checks.

A release is what `gpufleet:releases.<name>` holds: which catalog model to serve,
the image, where weights come from and how far it may scale. `parse_releases`
turns the raw config map into frozen `Release` objects; `validate_releases`
checks them against the stack (GPU type, pool size, jurisdiction) so that a bad
release stops `pulumi up` with one line naming the key, before any resource
exists. The catalog and its GPU sizing rule are `gpufleet.core.model_catalog`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from gpufleet.core import clouds
from gpufleet.core.autoscaling import ReleaseAutoscaling, ScalingPlan, cold_start_seconds
from gpufleet.core.errors import ConfigError
from gpufleet.core.model_catalog import ModelCatalog, ModelEntry, load_model_catalog, required_gpus
from gpufleet.core.scheduling import release_namespace

PROJECT = "gpufleet"
TENSOR_PARALLEL_SIZES = (1, 2, 4, 8)
# Release names end up inside object names such as 'vllm-<name>' (63 characters at most).
RELEASE_NAME_MAX = 58
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# Alibaba Container Registry hosts: Enterprise Edition '<instance>-registry[-vpc].<region>.cr.aliyuncs.com'
# and Personal Edition 'registry[-vpc].<region>.aliyuncs.com'.
_ACR_HOST = re.compile(
    r"^(?:[a-z0-9][a-z0-9-]*-registry(?:-vpc)?\.(?P<ee>[a-z0-9-]+)\.cr\.aliyuncs\.com"
    r"|registry(?:-vpc)?\.(?P<pe>[a-z0-9-]+)\.aliyuncs\.com)$"
)
# Alibaba regions outside mainland China that still start with 'cn-'.
_NON_MAINLAND_CN_REGIONS = frozenset({"cn-hongkong"})


# --------------------------------------------------------------------------- release model


class _ConfigModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)


class ResourceOverrides(_ConfigModel):
    """Replace the derived CPU/memory requests and limits of the vLLM container."""

    cpu: str | None = Field(default=None, pattern=_QUANTITY.pattern)
    memory: str | None = Field(default=None, pattern=_QUANTITY.pattern)
    cpu_limit: str | None = Field(default=None, pattern=_QUANTITY.pattern)
    memory_limit: str | None = Field(default=None, pattern=_QUANTITY.pattern)


WeightsSource = Literal["bucket", "modelscope", "huggingface"]


class Release(_ConfigModel):
    """`gpufleet:releases.<name>`; keys are camelCase in config, snake_case in Python."""

    model: str
    image: str
    served_model_name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")
    weights_source: WeightsSource = "bucket"
    tensor_parallel_size: int | None = Field(default=None, ge=1)
    max_model_len: int | None = Field(default=None, ge=256)
    gpu_memory_utilization: float = Field(default=0.9, ge=0.5, le=0.95)
    replicas: int = Field(default=1, ge=1)
    min_replicas: int | None = Field(default=None, ge=1)
    max_replicas: int | None = Field(default=None, ge=1)
    resources: ResourceOverrides = ResourceOverrides()
    # How the release scales on LLM signals (KEDA); absent = defaults when min != max.
    autoscaling: ReleaseAutoscaling = ReleaseAutoscaling()

    @model_validator(mode="before")
    @classmethod
    def _derive_served_name(cls, data: Any) -> Any:
        """Clients address the model by a lowercase catalog name unless told otherwise."""
        if isinstance(data, Mapping) and isinstance(data.get("model"), str):
            if data.get("servedModelName") is None and data.get("served_model_name") is None:
                return {**data, "servedModelName": data["model"].lower()}
        return data

    @property
    def effective_min_replicas(self) -> int:
        for value in (self.autoscaling.min_replicas, self.min_replicas):
            if value is not None:
                return value
        return self.replicas

    @property
    def effective_max_replicas(self) -> int:
        for value in (self.autoscaling.max_replicas, self.max_replicas):
            if value is not None:
                return value
        return self.replicas

    @property
    def autoscaled(self) -> bool:
        return self.effective_min_replicas != self.effective_max_replicas


_PYDANTIC_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a known key",
}


def _release_key(name: str, loc: tuple[str | int, ...] = ()) -> str:
    return f"{PROJECT}:releases.{name}" + "".join(f".{p}" for p in loc)


def parse_releases(raw: Mapping[str, Any]) -> dict[str, Release]:
    """Build `Release`s from the raw `gpufleet:releases` map; the first problem becomes a ConfigError."""
    releases: dict[str, Release] = {}
    for name, value in raw.items():
        if not isinstance(value, Mapping):
            raise ConfigError(_release_key(name), f"must be a map of release settings (got {type(value).__name__})")
        try:
            releases[name] = Release.model_validate(value)
        except ValidationError as exc:
            error = exc.errors()[0]
            loc = tuple(error["loc"])
            message = _PYDANTIC_MESSAGES.get(error["type"])
            if message is None:
                message = f"{error['msg']} (got {error['input']!r})"
            if error["type"] == "extra_forbidden":
                allowed = ", ".join(_allowed_keys(loc[:-1]))
                message = f"is not a known key (allowed: {allowed})"
            raise ConfigError(_release_key(name, loc), message) from None
    return releases


def _allowed_keys(parent: tuple[str | int, ...]) -> list[str]:
    model: type[BaseModel] = {("resources",): ResourceOverrides, ("autoscaling",): ReleaseAutoscaling}.get(
        tuple(parent), Release)
    return sorted(f.alias or n for n, f in model.model_fields.items())


# --------------------------------------------------------------------------- resolution


@dataclass(frozen=True)
class ResolvedRelease:
    """A release with every default filled in for one stack's GPU type."""

    name: str
    release: Release
    model: ModelEntry
    tensor_parallel_size: int
    max_model_len: int
    dtype: Literal["auto", "half"]


def resolve_release(
    name: str, release: Release, *, gpu_model: str, catalog: ModelCatalog | None = None
) -> ResolvedRelease:
    """Fill tensorParallelSize (sizing rule) and maxModelLen (catalog default); call after validate_releases."""
    catalog = catalog or load_model_catalog()
    entry = catalog.model(release.model)
    gpu = catalog.gpus[gpu_model]
    max_model_len = release.max_model_len or entry.default_max_model_len
    tp = release.tensor_parallel_size or required_gpus(
        entry,
        gpu,
        max_model_len=max_model_len,
        gpu_memory_utilization=release.gpu_memory_utilization,
        rule=catalog.sizing,
    )
    if tp is None:
        raise ValueError(f"release {name!r} does not fit {gpu_model}; run validate_releases first")
    # GPUs without bf16 (compute capability < 8.0) must load the bf16 checkpoints as fp16.
    return ResolvedRelease(name, release, entry, tp, max_model_len, "auto" if gpu.bf16 else "half")


def scaling_plan(name: str, release: Release, *, weights_gb: float, ttft_objective_s: float) -> ScalingPlan | None:
    """KEDA targets for an autoscaled release (None at a fixed size); the TTFT trigger shares the gate's objective."""
    lo, hi = release.effective_min_replicas, release.effective_max_replicas
    if lo == hi:
        return None
    auto = release.autoscaling
    namespace = release_namespace(name)
    return ScalingPlan(
        release=name, namespace=namespace, deployment=f"vllm-{name}", min_replicas=lo, max_replicas=hi,
        fallback_replicas=auto.fallback_replicas or max(release.replicas, 1),
        polling_interval_s=auto.polling_interval_s, queue_per_replica=auto.queue_per_replica,
        kv_cache_usage=auto.kv_cache_usage, ttft_saturation=auto.ttft_saturation, ttft_objective_s=ttft_objective_s,
        cold_start_s=cold_start_seconds(weights_gb, downloads_in_process=release.weights_source != "bucket"),
        scale_to_zero=auto.scale_to_zero, selector=f'namespace="{namespace}"')


# --------------------------------------------------------------------------- image references


@dataclass(frozen=True)
class ImageRef:
    host: str
    repository: str
    tag: str | None
    digest: str | None


def parse_image(image: str) -> ImageRef:
    """Split an image reference the way Docker does: a first component with '.' or ':' (or 'localhost') is a registry."""
    rest, _, digest = image.partition("@")
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        host, path = first, remainder
    else:
        host, path = "docker.io", rest
    repository, colon, tag = path.rpartition(":") if ":" in path else (path, "", "")
    return ImageRef(host=host, repository=repository, tag=tag if colon else None, digest=digest or None)


def acr_region(host: str) -> str | None:
    """The Alibaba region of an ACR registry host, or None if the host is not ACR."""
    match = _ACR_HOST.match(host)
    return (match.group("ee") or match.group("pe")) if match else None


def is_mainland_region(region: str) -> bool:
    return region.startswith("cn-") and region not in _NON_MAINLAND_CN_REGIONS


# --------------------------------------------------------------------------- validation


def validate_releases(
    releases: Mapping[str, Release],
    *,
    stack_cloud: str,
    jurisdiction: str,
    region: str,
    gpu_model: str,
    gpus_per_node: int,
    gpu_pool_max_nodes: int,
    registry_host: str,
    catalog: ModelCatalog | None = None,
) -> None:
    """Raise ConfigError for the first release that cannot run on this stack.

    `registry_host` is the stack's own registry (ECR on AWS, ACR on Alibaba); China
    releases must pull from it. A wrong `registry_host` for a China stack is a
    programming error (ValueError), not a config error.
    """
    catalog = catalog or load_model_catalog()
    if gpu_model not in catalog.gpus:
        raise ConfigError(
            f"{PROJECT}:gpuPool.instanceType",
            f"GPU model {gpu_model!r} is not in the model catalog (known: {', '.join(sorted(catalog.gpus))})",
        )
    if jurisdiction == "cn":
        home = clouds.for_jurisdiction("cn").name
        if stack_cloud != home:
            raise ValueError(f"China stacks run on {home}, not {stack_cloud!r}")
        registry_region = acr_region(registry_host)
        if registry_region is None or not is_mainland_region(registry_region) or registry_region != region:
            raise ValueError(
                f"registry_host {registry_host!r} is not an ACR registry in the stack's mainland region {region!r}"
            )
    pool_gpus = gpu_pool_max_nodes * gpus_per_node
    steady_gpus = 0
    for name, release in releases.items():
        resolved = _validate_release(
            name, release, catalog, gpu_model, gpus_per_node, gpu_pool_max_nodes, jurisdiction, registry_host
        )
        steady_gpus += release.replicas * resolved
    if steady_gpus > pool_gpus:
        raise ConfigError(
            f"{PROJECT}:releases",
            f"the releases' replicas need {steady_gpus} GPUs together, more than the GPU pool's capacity of "
            f"{pool_gpus} (gpuPool.maxSize {gpu_pool_max_nodes} x {gpus_per_node} GPUs per node)",
        )


def _validate_release(
    name: str,
    release: Release,
    catalog: ModelCatalog,
    gpu_model: str,
    gpus_per_node: int,
    max_nodes: int,
    jurisdiction: str,
    registry_host: str,
) -> int:
    """Check one release; return its GPUs per replica."""
    key = _release_key(name)
    if len(name) > RELEASE_NAME_MAX or not _DNS_LABEL.match(name):
        raise ConfigError(
            key,
            "release name must be a DNS-1123 label: lowercase letters, digits and '-', "
            f"starting and ending with a letter or digit, at most {RELEASE_NAME_MAX} characters",
        )
    if release.model not in catalog.models:
        allowed = ", ".join(sorted(catalog.models))
        raise ConfigError(f"{key}.model", f"{release.model!r} is not in the model catalog (allowed: {allowed})")
    entry = catalog.model(release.model)
    max_model_len = release.max_model_len or entry.default_max_model_len
    if max_model_len > entry.max_position_embeddings:
        raise ConfigError(
            f"{key}.maxModelLen",
            f"{max_model_len} exceeds the {entry.max_position_embeddings}-token context of {entry.name}",
        )
    needed = required_gpus(
        entry,
        catalog.gpus[gpu_model],
        max_model_len=max_model_len,
        gpu_memory_utilization=release.gpu_memory_utilization,
        rule=catalog.sizing,
    )
    sizing = f"at maxModelLen {max_model_len} and gpuMemoryUtilization {release.gpu_memory_utilization}"
    if needed is None:
        raise ConfigError(
            f"{key}.model",
            f"{entry.name} does not fit even {max(catalog.sizing.tensor_parallel_sizes)} {gpu_model} GPUs "
            f"{sizing}; a GPU node has {gpus_per_node}",
        )
    if needed > gpus_per_node:
        raise ConfigError(
            f"{key}.model",
            f"{entry.name} needs {needed} {gpu_model} GPUs per replica {sizing}, but a GPU node has {gpus_per_node}",
        )
    tp = _check_tensor_parallel(key, release.tensor_parallel_size, entry, gpu_model, needed, gpus_per_node, sizing)
    _check_replicas(key, release, tp, gpus_per_node, max_nodes)
    _check_sources(key, release, jurisdiction, registry_host)
    return tp


def _check_tensor_parallel(
    key: str, tp: int | None, entry: ModelEntry, gpu_model: str, needed: int, gpus_per_node: int, sizing: str
) -> int:
    if tp is None:
        return needed
    key = f"{key}.tensorParallelSize"
    if tp & (tp - 1):
        allowed = ", ".join(str(n) for n in TENSOR_PARALLEL_SIZES)
        raise ConfigError(key, f"{tp} is not a power of two (allowed: {allowed})")
    if tp > gpus_per_node:
        raise ConfigError(key, f"{tp} exceeds the {gpus_per_node} GPUs of one GPU node")
    if entry.attention_heads % tp:
        raise ConfigError(key, f"{tp} does not divide the {entry.attention_heads} attention heads of {entry.name}")
    if tp < needed:
        raise ConfigError(key, f"{tp} is below the {needed} {gpu_model} GPUs {entry.name} needs {sizing}")
    return tp


def _check_replicas(key: str, release: Release, tp: int, gpus_per_node: int, max_nodes: int) -> None:
    lo, hi = release.effective_min_replicas, release.effective_max_replicas
    for bound in ("minReplicas", "maxReplicas"):
        if getattr(release.autoscaling, _snake(bound)) is not None and getattr(release, _snake(bound)) is not None:
            raise ConfigError(f"{key}.autoscaling.{bound}", f"is also set as {key.split(':', 1)[1]}.{bound}: set it in one place")
    if lo > release.replicas:
        raise ConfigError(f"{key}.minReplicas", f"{lo} is above replicas {release.replicas}")
    if hi < release.replicas:
        raise ConfigError(f"{key}.maxReplicas", f"{hi} is below replicas {release.replicas}")
    # tp and gpus_per_node are powers of two, so replicas pack nodes exactly.
    capacity = max_nodes * (gpus_per_node // tp)
    for field, count in (("replicas", release.replicas), ("maxReplicas", hi)):
        if count > capacity:
            raise ConfigError(
                f"{key}.{field}",
                f"{count} replicas x {tp} GPUs = {count * tp} GPUs exceed the GPU pool's capacity of "
                f"{max_nodes * gpus_per_node} (gpuPool.maxSize {max_nodes} x {gpus_per_node} GPUs per node)",
            )


def _snake(camel: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)


def _check_sources(key: str, release: Release, jurisdiction: str, registry_host: str) -> None:
    ref = parse_image(release.image)
    if not ref.tag or not ref.digest or not _DIGEST.match(ref.digest):
        raise ConfigError(
            f"{key}.image",
            f"{release.image!r} must be pinned by tag and digest (registry/repository:tag@sha256:<64 hex>)",
        )
    if jurisdiction != "cn":
        return
    if ref.host != registry_host:
        raise ConfigError(
            f"{key}.image",
            f"{release.image!r} is not from the stack's ACR registry {registry_host!r} "
            "(China stacks pull images only from their own registry)",
        )
    if release.weights_source == "huggingface":
        raise ConfigError(
            f"{key}.weightsSource",
            "'huggingface' is not reachable from mainland China stacks (allowed: bucket, modelscope)",
        )

