"""Profiles: sourced figures, roofline derivation, and agreement with anchors."""

from __future__ import annotations

import copy

import pytest

from gpufleet.simserver.profiles import (
    book_from_mapping,
    derive_timing,
    hardware_of,
    kv_capacity_tokens,
    load_profiles,
    predict_anchor,
)

BOOK = load_profiles()
RAW = BOOK.raw


def _sourced_entries():
    for key, entry in RAW["calibration"].items():
        yield f"calibration.{key}", entry
    for section in ("gpus", "models"):
        for key, entry in RAW[section].items():
            yield f"{section}.{key}", entry
    for entry in RAW["anchors"]:
        yield f"anchors.{entry['name']}", entry


@pytest.mark.parametrize(("where", "entry"), list(_sourced_entries()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_figure_says_where_it_comes_from(where: str, entry: dict) -> None:
    assert entry["kind"] in ("published", "derived"), where
    if entry["kind"] == "published":
        assert entry["url"].startswith("https://"), where
        assert "date" in entry, where
    if where.startswith(("calibration", "anchors")):
        assert entry["figure"], where


def test_profiles_cover_the_required_gpus_and_model_sizes() -> None:
    gpus = {p.hardware.gpu for p in BOOK.profiles.values()}
    assert {"A10-24GB", "L4-24GB", "L40S-48GB", "A100-80GB-SXM", "H100-80GB-SXM"} <= gpus
    sizes = {p.hardware.params_b for p in BOOK.profiles.values()}
    assert min(sizes) < 9 and max(sizes) > 60
    assert BOOK.default in BOOK.profiles


def test_a10_llama_8b_timing_by_hand() -> None:
    p = BOOK.get("a10-24gb-llama-3.1-8b")
    t = p.timing
    weights = 8.03e9 * 2  # BF16 bytes
    bandwidth = 600e9 * 0.77
    assert t.weight_s == pytest.approx(weights / bandwidth)  # 34.8 ms
    assert t.kv_s_per_token == pytest.approx(131072 / bandwidth)
    assert t.prefill_s_per_token == pytest.approx(2 * 8.03e9 / (125e12 * 0.5))  # 0.257 ms
    assert t.ttft_base_s == pytest.approx(0.003 + weights / bandwidth)
    assert p.kv_capacity_tokens == int((24 * 2**30 * 0.9 - weights - 1.5 * 2**30) // 131072) == 42131
    assert p.served_model_name == "meta-llama/Llama-3.1-8B-Instruct"


def test_tensor_parallel_profile_scales_with_efficiency() -> None:
    p = BOOK.get("a100-80gb-x4-llama-3.1-70b")
    bandwidth = 4 * 2039e9 * 0.77 * 0.8
    assert p.timing.weight_s == pytest.approx(70.6e9 * 2 / bandwidth)
    assert p.hardware.gpu_count == 4


def test_fp8_uses_fp8_tensor_cores_only_where_they_exist() -> None:
    spec = {"gpu": "H100-80GB-SXM", "gpu_count": 1, "model": "llama-3.1-8b", "weight_dtype": "fp8"}
    assert hardware_of(RAW, spec).tflops == 1979
    spec = {**spec, "gpu": "A100-80GB-SXM"}
    assert hardware_of(RAW, spec).tflops == 312


@pytest.mark.parametrize("anchor", RAW["anchors"], ids=lambda a: a["name"])
def test_derived_timing_matches_published_anchors_within_30_percent(anchor: dict) -> None:
    predicted = predict_anchor(anchor, RAW)
    assert 0.7 <= predicted / anchor["measured"] <= 1.3, (anchor["name"], predicted)


def test_itl_grows_with_batch_for_every_profile() -> None:
    for p in BOOK.profiles.values():
        t = p.timing
        assert t.step_time(512, 1) < t.step_time(64 * 512, 64) < t.step_time(256 * 512, 256), p.name


def test_unknown_profile_is_rejected_with_the_known_names() -> None:
    with pytest.raises(ValueError) as err:
        BOOK.get("b200")
    assert str(err.value).startswith("unknown profile 'b200'; known profiles: a10-24gb-llama-3.1-8b, ")


def test_max_model_len_above_kv_capacity_is_rejected() -> None:
    raw = copy.deepcopy(RAW)
    raw["profiles"]["a10-24gb-llama-3.1-8b"]["max_model_len"] = 131072
    with pytest.raises(ValueError) as err:
        book_from_mapping(raw)
    assert str(err.value) == (
        "profile 'a10-24gb-llama-3.1-8b': max_model_len 131072 exceeds the KV cache capacity of 42131 tokens"
    )


def test_unknown_weight_dtype_is_rejected() -> None:
    spec = {"gpu": "A10-24GB", "gpu_count": 1, "model": "llama-3.1-8b", "weight_dtype": "int3"}
    with pytest.raises(ValueError) as err:
        hardware_of(RAW, spec)
    assert str(err.value) == "unknown weight_dtype 'int3'; known: bf16, fp16, fp8"


def test_kv_capacity_is_zero_when_weights_do_not_fit() -> None:
    spec = {"gpu": "A10-24GB", "gpu_count": 1, "model": "llama-3.1-70b", "weight_dtype": "bf16"}
    assert kv_capacity_tokens(hardware_of(RAW, spec), RAW) == 0
    assert derive_timing(hardware_of(RAW, spec), RAW).weight_s > 0.3
