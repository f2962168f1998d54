"""The ACK versions catalog (catalog/ack_versions.yaml): what ACK offers for new clusters, with source and date."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import yaml

ACK_VERSIONS_FILE = Path(__file__).resolve().parent / "catalog" / "ack_versions.yaml"


@lru_cache(maxsize=1)
def ack_versions_catalog() -> dict:
    return yaml.safe_load(ACK_VERSIONS_FILE.read_text(encoding="utf-8"))


def offered_ack_versions() -> list[str]:
    return list(ack_versions_catalog()["versions"])


_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)-aliyun\.(\d+)$")


def newest_patch(minor: str, offered: Sequence[str]) -> str | None:
    """The newest ACK version string of `minor` ('1.34') among those offered, or None."""
    matching = [v for v in offered if (m := _VERSION.match(v)) and f"{m.group(1)}.{m.group(2)}" == minor]
    return max(matching, key=lambda v: tuple(int(x) for x in _VERSION.match(v).groups()), default=None)  # type: ignore[union-attr]
