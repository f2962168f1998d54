"""Simulator profiles: derive engine timing from GPU and model facts.

``profiles.yaml`` stores published hardware/model figures and a few
calibration constants; this module turns them into a :class:`Profile` with a
memory/compute roofline, so no latency number is typed in by hand and the
derivation can be checked against published vLLM measurements (``anchors``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from gpufleet.simserver.model import Timing

__all__ = [
    "Hardware",
    "Profile",
    "ProfileBook",
    "derive_timing",
    "kv_capacity_tokens",
    "load_profiles",
    "predict_anchor",
]

_GIB = 1024**3
_WEIGHT_BYTES = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0}


@dataclass(frozen=True)
class Hardware:
    """One (GPU, count, model, dtype) combination with the facts the roofline needs."""

    gpu: str
    gpu_count: int
    memory_gib: float
    bandwidth_gb_s: float
    tflops: float
    model: str
    params_b: float
    kv_bytes_per_token: int
    weight_dtype: str

    @property
    def weight_bytes(self) -> float:
        return self.params_b * 1e9 * _WEIGHT_BYTES[self.weight_dtype]


@dataclass(frozen=True)
class Profile:
    """Everything the simulator needs to behave like one deployment."""

    name: str
    served_model_name: str
    hardware: Hardware
    timing: Timing
    max_num_seqs: int
    max_model_len: int
    kv_capacity_tokens: int


@dataclass(frozen=True)
class ProfileBook:
    default: str
    profiles: dict[str, Profile]
    anchors: tuple[dict[str, Any], ...]
    raw: dict[str, Any]

    def get(self, name: str | None) -> Profile:
        key = self.default if name is None else name
        try:
            return self.profiles[key]
        except KeyError:
            known = ", ".join(sorted(self.profiles))
            raise ValueError(f"unknown profile {key!r}; known profiles: {known}") from None


def _calibration(raw: Mapping[str, Any], key: str) -> float:
    return float(raw["calibration"][key]["value"])


def hardware_of(raw: Mapping[str, Any], spec: Mapping[str, Any]) -> Hardware:
    """Resolve a profile/anchor spec's gpu and model names into facts."""
    gpu = raw["gpus"][spec["gpu"]]
    model = raw["models"][spec["model"]]
    dtype = spec["weight_dtype"]
    if dtype not in _WEIGHT_BYTES:
        raise ValueError(f"unknown weight_dtype {dtype!r}; known: {', '.join(_WEIGHT_BYTES)}")
    # FP8 weights run FP8 tensor cores only where the GPU has them (Ada,
    # Hopper); on Ampere vLLM dequantizes to BF16 for the matmuls.
    tflops = gpu["fp8_tflops"] if dtype == "fp8" and gpu.get("fp8_tflops") else gpu["bf16_tflops"]
    return Hardware(
        gpu=spec["gpu"],
        gpu_count=int(spec["gpu_count"]),
        memory_gib=float(gpu["memory_gib"]),
        bandwidth_gb_s=float(gpu["bandwidth_gb_s"]),
        tflops=float(tflops),
        model=model["hf_id"],
        params_b=float(model["params_b"]),
        kv_bytes_per_token=int(model["kv_bytes_per_token"]),
        weight_dtype=dtype,
    )


def derive_timing(hw: Hardware, raw: Mapping[str, Any]) -> Timing:
    """Roofline timing of ``hw`` with the calibration constants of ``raw``."""
    tp = _calibration(raw, "tensor_parallel_efficiency") if hw.gpu_count > 1 else 1.0
    bandwidth = hw.gpu_count * hw.bandwidth_gb_s * 1e9 * _calibration(raw, "memory_efficiency") * tp
    flops = hw.gpu_count * hw.tflops * 1e12 * _calibration(raw, "compute_efficiency") * tp
    flop_s_per_token = 2.0 * hw.params_b * 1e9 / flops
    weight_s = hw.weight_bytes / bandwidth
    return Timing(
        ttft_base_s=_calibration(raw, "api_overhead_ms") / 1000.0 + weight_s,
        prefill_s_per_token=flop_s_per_token,
        weight_s=weight_s,
        kv_s_per_token=hw.kv_bytes_per_token / bandwidth,
        compute_s_per_seq=flop_s_per_token,
    )


def kv_capacity_tokens(hw: Hardware, raw: Mapping[str, Any]) -> int:
    """Tokens of KV cache left after weights and runtime reserve, like vLLM sizes it."""
    usable = (
        hw.gpu_count * hw.memory_gib * _GIB * _calibration(raw, "gpu_memory_utilization")
        - hw.weight_bytes
        - hw.gpu_count * _calibration(raw, "runtime_reserve_gib") * _GIB
    )
    return max(0, int(usable // hw.kv_bytes_per_token))


def _profile(name: str, spec: Mapping[str, Any], raw: Mapping[str, Any]) -> Profile:
    hw = hardware_of(raw, spec)
    capacity = kv_capacity_tokens(hw, raw)
    max_model_len = int(spec["max_model_len"])
    if max_model_len > capacity:
        raise ValueError(
            f"profile {name!r}: max_model_len {max_model_len} exceeds the KV cache "
            f"capacity of {capacity} tokens"
        )
    return Profile(
        name=name,
        served_model_name=hw.model,
        hardware=hw,
        timing=derive_timing(hw, raw),
        max_num_seqs=int(spec["max_num_seqs"]),
        max_model_len=max_model_len,
        kv_capacity_tokens=capacity,
    )


def book_from_mapping(raw: Mapping[str, Any]) -> ProfileBook:
    """Build every profile of an already-parsed profiles document."""
    profiles = {name: _profile(name, spec, raw) for name, spec in raw["profiles"].items()}
    default = raw["default"]
    if default not in profiles:
        raise ValueError(f"default profile {default!r} is not defined")
    return ProfileBook(
        default=default,
        profiles=profiles,
        anchors=tuple(raw.get("anchors", ())),
        raw=dict(raw),
    )


@lru_cache(maxsize=1)
def load_profiles() -> ProfileBook:
    """The packaged profiles (parsed once per process)."""
    text = resources.files("gpufleet.simserver").joinpath("profiles.yaml").read_text("utf-8")
    return book_from_mapping(yaml.safe_load(text))


def predict_anchor(anchor: Mapping[str, Any], raw: Mapping[str, Any]) -> float:
    """The model's prediction (ms) of a published anchor measurement."""
    timing = derive_timing(hardware_of(raw, anchor), raw)
    metric = anchor["metric"]
    if metric == "itl_ms":
        batch = int(anchor["batch"])
        context = batch * int(anchor["context_tokens_per_seq"])
        return timing.step_time(context, batch) * 1000.0
    if metric == "ttft_ms":
        tokens = int(anchor["prefill_batch_tokens"])
        return (timing.ttft_base_s + timing.prefill_time(tokens)) * 1000.0
    raise ValueError(f"unknown anchor metric {metric!r}")
