"""The ACK versions catalog (catalog/ack_versions.yaml): what ACK offers for new clusters, with source and date."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

ACK_VERSIONS_FILE = Path(__file__).resolve().parent / "catalog" / "ack_versions.yaml"


@lru_cache(maxsize=1)
def ack_versions_catalog() -> dict:
    return yaml.safe_load(ACK_VERSIONS_FILE.read_text(encoding="utf-8"))


def offered_ack_versions() -> list[str]:
    return list(ack_versions_catalog()["versions"])
