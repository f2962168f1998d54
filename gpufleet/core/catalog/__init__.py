"""Typed access to the instance/region catalog (`instances.yaml` beside this file).

The catalog is data with sources and dates; this module only loads and
validates its shape so that a typo in the data fails loudly in tests.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

CATALOG_DIR = Path(__file__).resolve().parent
Cloud = Literal["aws", "alicloud"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GpuSpec(_Frozen):
    model: str
    count: int


class InstanceType(_Frozen):
    vcpu: int
    memory_gib: int
    gpu: GpuSpec | None = None


class Region(_Frozen):
    mainland_china: bool
    zones: tuple[str, ...]
    available_gpu_types: tuple[str, ...]
    continent: str | None = None


class KubernetesVersion(_Frozen):
    standard_support_end: date
    estimate: bool = False
    release: str | None = None


class CloudCatalog(_Frozen):
    kubernetes_versions: dict[str, KubernetesVersion]
    regions: dict[str, Region]
    instance_types: dict[str, InstanceType]

    def gpu_types(self) -> list[str]:
        return sorted(n for n, t in self.instance_types.items() if t.gpu)

    def cpu_types(self) -> list[str]:
        return sorted(n for n, t in self.instance_types.items() if not t.gpu)


class InstanceCatalog(_Frozen):
    as_of: date
    clouds: dict[Cloud, CloudCatalog]

    def cloud(self, name: Cloud) -> CloudCatalog:
        return self.clouds[name]


@lru_cache(maxsize=None)
def load_instance_catalog(path: Path = CATALOG_DIR / "instances.yaml") -> InstanceCatalog:
    with open(path, encoding="utf-8") as fh:
        return InstanceCatalog.model_validate(yaml.safe_load(fh))
