"""The clouds gpufleet runs on, one module each, looked up by name or jurisdiction."""

from __future__ import annotations

from gpufleet.core.clouds.alicloud import ALICLOUD
from gpufleet.core.clouds.aws import AWS
from gpufleet.core.clouds.base import Cloud, tag_string

# Order is the order in messages ("allowed: aws, alicloud").
CLOUDS: dict[str, Cloud] = {c.name: c for c in (AWS, ALICLOUD)}
NAMES = tuple(CLOUDS)
REGION_KEYS = {c.name: c.region_key for c in CLOUDS.values()}


def get(name: str) -> Cloud:
    """The cloud called `name`; ValueError names the allowed ones."""
    try:
        return CLOUDS[name]
    except KeyError:
        raise ValueError(f"unknown cloud {name!r} (allowed: {', '.join(NAMES)})") from None


def for_jurisdiction(jurisdiction: str) -> Cloud:
    """The cloud whose stacks serve `jurisdiction` (cn: Alibaba Cloud, global: AWS)."""
    for cloud in CLOUDS.values():
        if cloud.jurisdiction == jurisdiction:
            return cloud
    raise ValueError(f"no cloud serves jurisdiction {jurisdiction!r}")


__all__ = ["CLOUDS", "NAMES", "REGION_KEYS", "Cloud", "for_jurisdiction", "get", "tag_string"]
