"""The model catalog (`catalog/models.yaml`): what each servable model and GPU is, and the sizing rule.

Kept apart from the release model because the catalog is data every layer reads
(cost, doctor, plan, the infra wiring) while a release is one stack's choice of
it. `required_gpus` is the one GPU sizing rule: the catalog test and release
validation both use it, so they cannot disagree.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

MODELS_YAML = Path(__file__).resolve().parent / "catalog" / "models.yaml"
GIB = 1024**3


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GpuSpec(_Frozen):
    """What vLLM sees of one GPU: total memory (nvidia-smi memory.total) and bf16 support."""

    memory_mib: int = Field(gt=0)
    bf16: bool

    @property
    def memory_gib(self) -> float:
        return self.memory_mib / 1024


class SizingRule(_Frozen):
    gpu_memory_utilization: float
    activation_reserve_gib: float
    tensor_parallel_sizes: tuple[int, ...]


class ModelEntry(_Frozen):
    """One servable model: ids, size facts from its config.json/index, and GPUs per replica."""

    name: str
    huggingface_id: str
    modelscope_id: str
    parameters: int = Field(gt=0)
    weights_bytes: int = Field(gt=0)
    weights_gb: float = Field(gt=0)
    layers: int = Field(gt=0)
    attention_heads: int = Field(gt=0)
    kv_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0)
    max_position_embeddings: int = Field(gt=0)
    default_max_model_len: int = Field(gt=0)
    min_gpus: dict[str, int | None]
    sources: tuple[str, ...]

    @property
    def weights_gib(self) -> float:
        return self.weights_bytes / GIB

    @property
    def kv_cache_bytes_per_token(self) -> int:
        """K and V, every layer, bf16 (2 bytes): 2 * layers * kv_heads * head_dim * 2."""
        return 2 * self.layers * self.kv_heads * self.head_dim * 2


class ModelCatalog(_Frozen):
    as_of: date
    sizing: SizingRule
    gpus: dict[str, GpuSpec]
    models: dict[str, ModelEntry]

    def model(self, name: str) -> ModelEntry:
        return self.models[name]


@lru_cache(maxsize=None)
def load_model_catalog(path: Path = MODELS_YAML) -> ModelCatalog:
    """Load models.yaml; each model's mapping key becomes its `name`."""
    with open(path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    raw["models"] = {name: {"name": name, **entry} for name, entry in raw["models"].items()}
    return ModelCatalog.model_validate(raw)


def required_gpus(
    model: ModelEntry,
    gpu: GpuSpec,
    *,
    max_model_len: int,
    gpu_memory_utilization: float,
    rule: SizingRule,
) -> int | None:
    """Smallest tensor-parallel size whose GPUs hold the weights plus one full-length sequence.

    Per GPU, vLLM may use `utilization x memory`; `activation_reserve_gib` of that goes to
    activations, CUDA graphs and the CUDA context. What is left across n GPUs must hold the
    weights and the KV cache of one `max_model_len` sequence (vLLM refuses to start with
    less). KV heads are replicated when n exceeds them, and n must divide the attention
    heads. None when even the largest size does not fit.
    """
    budget_per_gpu = gpu_memory_utilization * gpu.memory_gib - rule.activation_reserve_gib
    for n in rule.tensor_parallel_sizes:
        if model.attention_heads % n:
            continue
        kv_replication = max(n, model.kv_heads) / model.kv_heads
        kv_gib = model.kv_cache_bytes_per_token * max_model_len * kv_replication / GIB
        if n * budget_per_gpu >= model.weights_gib + kv_gib:
            return n
    return None
