"""Model catalog, GPU sizing rule, Release parsing and per-stack release validation."""

from __future__ import annotations

from typing import Any

import pytest

from gpufleet.core.errors import ConfigError
from gpufleet.core.model_catalog import GIB, load_model_catalog, required_gpus
from gpufleet.core.release_config import (
    Release,
    acr_region,
    parse_image,
    parse_releases,
    resolve_release,
    validate_releases,
)

CATALOG = load_model_catalog()
DIGEST = "sha256:" + "0123456789abcdef" * 4
ACR = "gpufleet-prod-cn-acr-registry-vpc.cn-hangzhou.cr.aliyuncs.com"
ACR_IMAGE = f"{ACR}/gpufleet/vllm-openai:v0.9.2@{DIGEST}"
HUB_IMAGE = f"vllm/vllm-openai:v0.9.2@{DIGEST}"
ALLOWED_MODELS = (
    "Qwen2.5-14B-Instruct, Qwen2.5-32B-Instruct, Qwen2.5-3B-Instruct, Qwen2.5-72B-Instruct, "
    "Qwen2.5-7B-Instruct, Qwen3-32B, Qwen3-8B"
)


def release(**fields: Any) -> Release:
    return Release.model_validate({"model": "Qwen2.5-7B-Instruct", "image": HUB_IMAGE, **fields})


def aws(releases: dict[str, Release], **overrides: Any) -> None:
    kwargs: dict[str, Any] = dict(
        stack_cloud="aws",
        jurisdiction="global",
        region="us-east-1",
        gpu_model="A10G-24GB",
        gpus_per_node=1,
        gpu_pool_max_nodes=4,
        registry_host="123456789012.dkr.ecr.us-east-1.amazonaws.com",
    )
    kwargs.update(overrides)
    validate_releases(releases, **kwargs)


def cn(releases: dict[str, Release], **overrides: Any) -> None:
    kwargs: dict[str, Any] = dict(
        stack_cloud="alicloud",
        jurisdiction="cn",
        region="cn-hangzhou",
        gpu_model="A10-24GB",
        gpus_per_node=4,
        gpu_pool_max_nodes=2,
        registry_host=ACR,
    )
    kwargs.update(overrides)
    validate_releases(releases, **kwargs)


def error(fn, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        fn(*args, **kwargs)
    return str(caught.value)


# --------------------------------------------------------------------------- catalog


def test_catalog_has_the_required_models_and_every_gpu_model():
    assert {"Qwen2.5-7B-Instruct", "Qwen2.5-14B-Instruct", "Qwen2.5-32B-Instruct", "Qwen2.5-72B-Instruct"} <= set(
        CATALOG.models
    )
    assert any(name.startswith("Qwen3-") for name in CATALOG.models)
    gpus = {"T4-16GB", "A10-24GB", "A10G-24GB", "L4-24GB", "L40S-48GB", "A100-40GB", "A100-80GB", "H100-80GB"}
    assert set(CATALOG.gpus) == gpus
    for entry in CATALOG.models.values():
        assert set(entry.min_gpus) == gpus
        assert entry.sources and all(s.startswith("https://") for s in entry.sources)


def test_catalog_matches_the_gpu_models_of_the_instance_catalog():
    from gpufleet.core.catalog import load_instance_catalog

    instances = load_instance_catalog()
    used = {t.gpu.model for c in instances.clouds.values() for t in c.instance_types.values() if t.gpu}
    assert used <= set(CATALOG.gpus)


@pytest.mark.parametrize("name", sorted(CATALOG.models))
def test_weight_facts_are_consistent(name: str):
    entry = CATALOG.model(name)
    assert entry.weights_bytes == 2 * entry.parameters  # bf16
    assert entry.weights_gb == round(entry.weights_bytes / 1e9, 2)
    assert entry.default_max_model_len <= entry.max_position_embeddings
    assert entry.huggingface_id == f"Qwen/{name}" == entry.modelscope_id


@pytest.mark.parametrize("name", sorted(CATALOG.models))
def test_min_gpus_follow_the_documented_rule(name: str):
    entry = CATALOG.model(name)
    for gpu_name, gpu in CATALOG.gpus.items():
        derived = required_gpus(
            entry,
            gpu,
            max_model_len=entry.default_max_model_len,
            gpu_memory_utilization=CATALOG.sizing.gpu_memory_utilization,
            rule=CATALOG.sizing,
        )
        assert entry.min_gpus[gpu_name] == derived, (name, gpu_name)


def test_known_sizes():
    m = CATALOG.models
    assert m["Qwen2.5-7B-Instruct"].min_gpus["A10G-24GB"] == 1
    assert m["Qwen2.5-7B-Instruct"].min_gpus["T4-16GB"] == 2
    assert m["Qwen2.5-72B-Instruct"].min_gpus["A100-80GB"] == 4
    assert m["Qwen2.5-72B-Instruct"].min_gpus["H100-80GB"] == 4
    assert m["Qwen2.5-72B-Instruct"].min_gpus["T4-16GB"] is None
    assert m["Qwen2.5-32B-Instruct"].min_gpus["A100-80GB"] == 1
    assert m["Qwen2.5-3B-Instruct"].min_gpus["T4-16GB"] == 1


def test_kv_cache_per_token_is_from_config():
    # 2 (K,V) x 80 layers x 8 KV heads x 128 x 2 bytes = 320 KiB per token
    assert CATALOG.model("Qwen2.5-72B-Instruct").kv_cache_bytes_per_token == 327680
    assert CATALOG.model("Qwen2.5-7B-Instruct").kv_cache_bytes_per_token == 57344


def test_required_gpus_arithmetic_at_the_edge():
    # Qwen2.5-7B on one A10G: budget 0.9 x 22.488 - 2 = 18.24 GiB; weights 14.19 + KV 1.75 fits.
    entry, gpu = CATALOG.model("Qwen2.5-7B-Instruct"), CATALOG.gpus["A10G-24GB"]
    assert required_gpus(entry, gpu, max_model_len=32768, gpu_memory_utilization=0.9, rule=CATALOG.sizing) == 1
    need = entry.weights_gib + entry.kv_cache_bytes_per_token * 32768 / GIB  # 15.94 GiB
    assert 0.8 * gpu.memory_gib - 2 >= need  # 15.99 GiB: still one GPU
    assert required_gpus(entry, gpu, max_model_len=32768, gpu_memory_utilization=0.8, rule=CATALOG.sizing) == 1
    assert 0.75 * gpu.memory_gib - 2 < need  # 14.87 GiB: two GPUs
    assert required_gpus(entry, gpu, max_model_len=32768, gpu_memory_utilization=0.75, rule=CATALOG.sizing) == 2
    # Qwen3-8B needs 2 A10Gs at 32k context but fits one at 16k.
    qwen3 = CATALOG.model("Qwen3-8B")
    assert required_gpus(qwen3, gpu, max_model_len=32768, gpu_memory_utilization=0.9, rule=CATALOG.sizing) == 2
    assert required_gpus(qwen3, gpu, max_model_len=16384, gpu_memory_utilization=0.9, rule=CATALOG.sizing) == 1


def test_tensor_parallel_must_divide_attention_heads():
    # Qwen2.5-7B has 28 attention heads, so 8 GPUs is never a candidate: at 0.5 utilisation
    # four T4s hold 22 GiB, and a 200k-token sequence (14.2 GiB weights + 10.7 GiB KV) would need eight.
    entry, t4 = CATALOG.model("Qwen2.5-7B-Instruct"), CATALOG.gpus["T4-16GB"]
    assert required_gpus(entry, t4, max_model_len=100_000, gpu_memory_utilization=0.5, rule=CATALOG.sizing) == 4
    assert required_gpus(entry, t4, max_model_len=200_000, gpu_memory_utilization=0.5, rule=CATALOG.sizing) is None
    qwen3 = CATALOG.model("Qwen3-8B")  # 32 heads: eight is allowed
    assert required_gpus(qwen3, t4, max_model_len=200_000, gpu_memory_utilization=0.5, rule=CATALOG.sizing) == 8


# --------------------------------------------------------------------------- Release model


def test_release_defaults_and_aliases():
    r = Release.model_validate({"model": "Qwen3-8B", "image": HUB_IMAGE})
    assert r.served_model_name == "qwen3-8b"
    assert r.weights_source == "bucket"
    assert r.gpu_memory_utilization == 0.9
    assert (r.replicas, r.effective_min_replicas, r.effective_max_replicas, r.autoscaled) == (1, 1, 1, False)
    r2 = Release(model="Qwen3-8B", image=HUB_IMAGE, served_model_name="chat", max_replicas=3)
    assert r2.served_model_name == "chat" and r2.autoscaled
    with pytest.raises(Exception):
        r2.replicas = 2  # frozen


def test_parse_releases_camel_case_keys():
    parsed = parse_releases(
        {
            "blue": {
                "model": "Qwen2.5-14B-Instruct",
                "image": HUB_IMAGE,
                "servedModelName": "qwen-14b",
                "weightsSource": "modelscope",
                "tensorParallelSize": 2,
                "maxModelLen": 8192,
                "gpuMemoryUtilization": 0.85,
                "replicas": 2,
                "minReplicas": 1,
                "maxReplicas": 3,
                "resources": {"cpu": "6", "memoryLimit": "40Gi"},
            }
        }
    )
    blue = parsed["blue"]
    assert blue.tensor_parallel_size == 2 and blue.max_model_len == 8192
    assert blue.resources.cpu == "6" and blue.resources.memory_limit == "40Gi" and blue.resources.memory is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"model": "Qwen3-8B", "image": HUB_IMAGE, "gpuMemoryUtilization": 0.99},
            "gpufleet:releases.blue.gpuMemoryUtilization: Input should be less than or equal to 0.95 (got 0.99)",
        ),
        (
            {"model": "Qwen3-8B", "image": HUB_IMAGE, "gpuMemoryUtilization": 0.3},
            "gpufleet:releases.blue.gpuMemoryUtilization: Input should be greater than or equal to 0.5 (got 0.3)",
        ),
        ({"model": "Qwen3-8B"}, "gpufleet:releases.blue.image: is required"),
        (
            {"model": "Qwen3-8B", "image": HUB_IMAGE, "weightsSource": "s3"},
            "gpufleet:releases.blue.weightsSource: Input should be 'bucket', 'modelscope' or 'huggingface' (got 's3')",
        ),
        (
            {"model": "Qwen3-8B", "image": HUB_IMAGE, "replica": 2},
            "gpufleet:releases.blue.replica: is not a known key (allowed: autoscaling, gpuMemoryUtilization, image, maxModelLen, "
            "maxReplicas, minReplicas, model, replicas, resources, servedModelName, tensorParallelSize, weightsSource)",
        ),
        (
            {"model": "Qwen3-8B", "image": HUB_IMAGE, "resources": {"gpu": 2}},
            "gpufleet:releases.blue.resources.gpu: is not a known key (allowed: cpu, cpuLimit, memory, memoryLimit)",
        ),
        (
            {"model": "Qwen3-8B", "image": HUB_IMAGE, "resources": {"memory": "12 GB"}},
            "gpufleet:releases.blue.resources.memory: String should match pattern "
            "'^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$' (got '12 GB')",
        ),
        (
            {"model": "Qwen3-8B", "image": HUB_IMAGE, "replicas": 0},
            "gpufleet:releases.blue.replicas: Input should be greater than or equal to 1 (got 0)",
        ),
    ],
)
def test_parse_releases_errors(raw: dict[str, Any], message: str):
    assert error(parse_releases, {"blue": raw}) == message


def test_parse_releases_rejects_a_non_map():
    assert error(parse_releases, {"blue": "Qwen3-8B"}) == (
        "gpufleet:releases.blue: must be a map of release settings (got str)"
    )


# --------------------------------------------------------------------------- image references


@pytest.mark.parametrize(
    ("image", "host", "repository", "tag", "digest"),
    [
        ("vllm/vllm-openai:v0.9.2", "docker.io", "vllm/vllm-openai", "v0.9.2", None),
        ("ubuntu", "docker.io", "ubuntu", None, None),
        (f"nvcr.io/nvidia/k8s-device-plugin:v0.17.1@{DIGEST}", "nvcr.io", "nvidia/k8s-device-plugin", "v0.17.1", DIGEST),
        ("localhost:5000/x:1", "localhost:5000", "x", "1", None),
        (f"{ACR}/gpufleet/vllm@{DIGEST}", ACR, "gpufleet/vllm", None, DIGEST),
    ],
)
def test_parse_image(image: str, host: str, repository: str, tag: str | None, digest: str | None):
    ref = parse_image(image)
    assert (ref.host, ref.repository, ref.tag, ref.digest) == (host, repository, tag, digest)


def test_acr_region():
    assert acr_region(ACR) == "cn-hangzhou"
    assert acr_region("registry.cn-beijing.aliyuncs.com") == "cn-beijing"
    assert acr_region("registry-vpc.cn-shanghai.aliyuncs.com") == "cn-shanghai"
    assert acr_region("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn") is None
    assert acr_region("docker.io") is None


# --------------------------------------------------------------------------- validate_releases


def test_valid_releases_pass_on_both_clouds():
    aws({"blue": release(), "green": release(model="Qwen3-8B", max_model_len=16384)})
    cn({"blue": release(model="Qwen2.5-32B-Instruct", image=ACR_IMAGE, weights_source="modelscope", max_replicas=2)})


def test_release_name_must_be_a_dns_label():
    message = error(aws, {"Blue_1": release()})
    assert message == (
        "gpufleet:releases.Blue_1: release name must be a DNS-1123 label: lowercase letters, digits and '-', "
        "starting and ending with a letter or digit, at most 58 characters"
    )
    assert error(aws, {"b" * 59: release()}).startswith(f"gpufleet:releases.{'b' * 59}: release name must be")


def test_unknown_model_lists_the_catalog():
    assert error(aws, {"blue": release(model="Qwen9")}) == (
        f"gpufleet:releases.blue.model: 'Qwen9' is not in the model catalog (allowed: {ALLOWED_MODELS})"
    )


def test_model_too_big_for_the_node():
    assert error(aws, {"blue": release(model="Qwen2.5-32B-Instruct")}) == (
        "gpufleet:releases.blue.model: Qwen2.5-32B-Instruct needs 4 A10G-24GB GPUs per replica at maxModelLen "
        "32768 and gpuMemoryUtilization 0.9, but a GPU node has 1"
    )


def test_model_that_fits_no_gpu_count():
    assert error(
        aws, {"blue": release(model="Qwen2.5-72B-Instruct")}, gpu_model="T4-16GB", gpus_per_node=4
    ) == (
        "gpufleet:releases.blue.model: Qwen2.5-72B-Instruct does not fit even 8 T4-16GB GPUs at maxModelLen 32768 "
        "and gpuMemoryUtilization 0.9; a GPU node has 4"
    )


def test_max_model_len_above_the_model_context():
    assert error(aws, {"blue": release(max_model_len=65536)}) == (
        "gpufleet:releases.blue.maxModelLen: 65536 exceeds the 32768-token context of Qwen2.5-7B-Instruct"
    )


@pytest.mark.parametrize(
    ("tp", "message"),
    [
        (3, "3 is not a power of two (allowed: 1, 2, 4, 8)"),
        (8, "8 exceeds the 4 GPUs of one GPU node"),
        (1, "1 is below the 4 A10-24GB GPUs Qwen2.5-32B-Instruct needs at maxModelLen 32768 and "
            "gpuMemoryUtilization 0.9"),
    ],
)
def test_tensor_parallel_size_errors(tp: int, message: str):
    r = release(model="Qwen2.5-32B-Instruct", image=ACR_IMAGE, tensor_parallel_size=tp)
    assert error(cn, {"blue": r}) == f"gpufleet:releases.blue.tensorParallelSize: {message}"


def test_tensor_parallel_size_must_divide_heads():
    r = release(tensor_parallel_size=8)
    assert error(aws, {"blue": r}, gpus_per_node=8) == (
        "gpufleet:releases.blue.tensorParallelSize: 8 does not divide the 28 attention heads of Qwen2.5-7B-Instruct"
    )


def test_replicas_beyond_pool_capacity():
    assert error(aws, {"blue": release(replicas=5)}) == (
        "gpufleet:releases.blue.replicas: 5 replicas x 1 GPUs = 5 GPUs exceed the GPU pool's capacity of 4 "
        "(gpuPool.maxSize 4 x 1 GPUs per node)"
    )
    assert error(aws, {"blue": release(replicas=2, max_replicas=6)}) == (
        "gpufleet:releases.blue.maxReplicas: 6 replicas x 1 GPUs = 6 GPUs exceed the GPU pool's capacity of 4 "
        "(gpuPool.maxSize 4 x 1 GPUs per node)"
    )
    # Qwen2.5-32B takes all 4 A10s of a node: two nodes hold two replicas.
    r = release(model="Qwen2.5-32B-Instruct", image=ACR_IMAGE, max_replicas=3)
    assert error(cn, {"blue": r}) == (
        "gpufleet:releases.blue.maxReplicas: 3 replicas x 4 GPUs = 12 GPUs exceed the GPU pool's capacity of 8 "
        "(gpuPool.maxSize 2 x 4 GPUs per node)"
    )


def test_releases_together_beyond_pool_capacity():
    assert error(aws, {"blue": release(replicas=3), "green": release(replicas=2)}) == (
        "gpufleet:releases: the releases' replicas need 5 GPUs together, more than the GPU pool's capacity of 4 "
        "(gpuPool.maxSize 4 x 1 GPUs per node)"
    )


def test_replica_bounds():
    assert error(aws, {"blue": release(replicas=1, min_replicas=2, max_replicas=3)}) == (
        "gpufleet:releases.blue.minReplicas: 2 is above replicas 1"
    )
    assert error(aws, {"blue": release(replicas=3, max_replicas=2)}) == (
        "gpufleet:releases.blue.maxReplicas: 2 is below replicas 3"
    )


@pytest.mark.parametrize("image", ["vllm/vllm-openai:v0.9.2", f"vllm/vllm-openai@{DIGEST}", "vllm/vllm-openai"])
def test_image_must_be_pinned_by_tag_and_digest(image: str):
    assert error(aws, {"blue": release(image=image)}) == (
        f"gpufleet:releases.blue.image: {image!r} must be pinned by tag and digest "
        "(registry/repository:tag@sha256:<64 hex>)"
    )


@pytest.mark.parametrize(
    "image",
    [
        HUB_IMAGE,
        f"docker.io/vllm/vllm-openai:v0.9.2@{DIGEST}",
        f"ghcr.io/vllm/vllm-openai:v0.9.2@{DIGEST}",
        f"nvcr.io/nvidia/vllm:v0.9.2@{DIGEST}",
        f"quay.io/vllm/vllm-openai:v0.9.2@{DIGEST}",
        f"123456789012.dkr.ecr.us-east-1.amazonaws.com/vllm:v0.9.2@{DIGEST}",
        f"other-registry.cn-hongkong.cr.aliyuncs.com/gpufleet/vllm:v0.9.2@{DIGEST}",
        f"registry.cn-beijing.aliyuncs.com/gpufleet/vllm:v0.9.2@{DIGEST}",
    ],
)
def test_china_images_must_come_from_the_stack_registry(image: str):
    assert error(cn, {"blue": release(image=image)}) == (
        f"gpufleet:releases.blue.image: {image!r} is not from the stack's ACR registry {ACR!r} "
        "(China stacks pull images only from their own registry)"
    )


def test_china_cannot_use_hugging_face():
    assert error(cn, {"blue": release(image=ACR_IMAGE, weights_source="huggingface")}) == (
        "gpufleet:releases.blue.weightsSource: 'huggingface' is not reachable from mainland China stacks "
        "(allowed: bucket, modelscope)"
    )


def test_global_may_use_hugging_face_when_configured():
    aws({"blue": release(weights_source="huggingface")})


@pytest.mark.parametrize(
    ("host", "region"),
    [
        ("docker.io", "cn-hangzhou"),
        ("gpufleet-registry-vpc.cn-hongkong.cr.aliyuncs.com", "cn-hongkong"),
        ("gpufleet-registry-vpc.cn-shanghai.cr.aliyuncs.com", "cn-hangzhou"),
    ],
)
def test_china_stack_registry_must_be_a_mainland_acr_in_region(host: str, region: str):
    with pytest.raises(ValueError) as caught:
        cn({"blue": release(image=f"{host}/x:1@{DIGEST}")}, registry_host=host, region=region)
    assert str(caught.value) == (
        f"registry_host {host!r} is not an ACR registry in the stack's mainland region {region!r}"
    )


def test_china_stacks_run_on_alicloud():
    with pytest.raises(ValueError) as caught:
        cn({"blue": release(image=ACR_IMAGE)}, stack_cloud="aws")
    assert str(caught.value) == "China stacks run on alicloud, not 'aws'"


def test_unknown_gpu_model():
    assert error(aws, {"blue": release()}, gpu_model="V100-16GB") == (
        "gpufleet:gpuPool.instanceType: GPU model 'V100-16GB' is not in the model catalog (known: A10-24GB, "
        "A100-40GB, A100-80GB, A10G-24GB, H100-80GB, L4-24GB, L40S-48GB, T4-16GB)"
    )


# --------------------------------------------------------------------------- resolve_release


def test_resolve_release_fills_defaults_from_the_rule():
    r = resolve_release("blue", release(model="Qwen2.5-72B-Instruct"), gpu_model="A100-80GB")
    assert (r.tensor_parallel_size, r.max_model_len, r.dtype) == (4, 32768, "auto")
    r = resolve_release("blue", release(max_model_len=8192, tensor_parallel_size=4), gpu_model="T4-16GB")
    assert (r.tensor_parallel_size, r.max_model_len, r.dtype) == (4, 8192, "half")
    with pytest.raises(ValueError) as caught:
        resolve_release("blue", release(model="Qwen2.5-72B-Instruct"), gpu_model="T4-16GB")
    assert str(caught.value) == "release 'blue' does not fit T4-16GB; run validate_releases first"
