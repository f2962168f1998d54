"""`gpufleet:observability`: the stack's metrics pipeline (Prometheus, retention, remote write).

Every key is optional; the defaults give a production-grade in-cluster Prometheus::

    gpufleet:observability:
      retentionDays: 15        # TSDB retention (Prometheus --storage.tsdb.retention.time)
      storageGib: 100          # persistent volume per Prometheus replica
      scrapeIntervalS: 30      # scrape and rule-evaluation interval
      prometheusReplicas: 2    # HA pair; Alertmanager deduplicates their alerts
      remoteWrite:             # optional managed copy, in the stack's own region
        provider: amp          # aws stacks: Amazon Managed Service for Prometheus
        workspaceId: ws-0123abcd-4567-89ef-0123-456789abcdef
      # alicloud stacks: provider: arms, url: <the ARMS instance's remote-write URL>

Residency: a China stack's metrics never leave mainland China, so it may only
write to ARMS Prometheus in its own region; a global stack only to AMP in its
own region. The retention must fit the volume at the estimated series count
(see `gpufleet.core.observability_sizing`). Frozen, camelCase, unknown keys
rejected, like every config model; messages name the key.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from gpufleet.core import clouds
from gpufleet.core.errors import ConfigError

KEY = "gpufleet:observability"
AMP_WORKSPACE = r"^ws-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_ARMS_HOST = re.compile(r"^(?P<region>cn-[a-z]+(-[a-z0-9]+)?)(-intranet)?\.arms\.aliyuncs\.com$")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)


class RemoteWrite(_Model):
    """A managed Prometheus that receives a copy of every sample (in-region only)."""

    provider: Literal["amp", "arms"]
    # amp: the workspace id; the endpoint is derived from the stack's region.
    workspace_id: str | None = Field(default=None, pattern=AMP_WORKSPACE)
    # arms: the instance's remote-write URL from the ARMS console (https, *.arms.aliyuncs.com).
    url: str | None = Field(default=None, max_length=2048)


class ObservabilityConfig(_Model):
    retention_days: int = Field(default=15, ge=1, le=365)
    storage_gib: int = Field(default=100, ge=10, le=16384)
    scrape_interval_s: int = Field(default=30, ge=5, le=300)
    prometheus_replicas: int = Field(default=2, ge=1, le=3)
    remote_write: RemoteWrite | None = None


def amp_remote_write_url(region: str, workspace_id: str) -> str:
    return f"https://aps-workspaces.{region}.amazonaws.com/workspaces/{workspace_id}/api/v1/remote_write"


def remote_write_url(obs: ObservabilityConfig, region: str) -> str | None:
    rw = obs.remote_write
    if rw is None:
        return None
    if rw.provider == "amp":
        assert rw.workspace_id is not None
        return amp_remote_write_url(region, rw.workspace_id)
    return rw.url


def arms_region(url: str) -> str | None:
    """The Alibaba Cloud region an ARMS remote-write URL points at, or None if it is not ARMS."""
    parsed = urlparse(url)
    match = _ARMS_HOST.match(parsed.hostname or "")
    return match.group("region") if match else None


def validate_observability(obs: ObservabilityConfig, *, cloud: str, jurisdiction: str, region: str,
                           mainland_regions: tuple[str, ...]) -> None:
    """Cross-key rules: the remote-write target matches the cloud and keeps metrics in the region."""
    rw = obs.remote_write
    if rw is None:
        return
    key = f"{KEY}.remoteWrite"
    wanted = clouds.get(cloud).metrics_remote_write
    if rw.provider != wanted:
        why = "China stacks keep metrics in mainland China" if jurisdiction == "cn" else f"{cloud} stacks"
        raise ConfigError(f"{key}.provider", f"{rw.provider!r} is not allowed here ({why}; allowed: {wanted})")
    if rw.provider == "amp":
        if rw.workspace_id is None:
            raise ConfigError(f"{key}.workspaceId", "is required for provider amp (e.g. ws-0123abcd-...)")
        if rw.url is not None:
            raise ConfigError(f"{key}.url", "must not be set for provider amp (the endpoint is derived from the region)")
        return
    if rw.workspace_id is not None:
        raise ConfigError(f"{key}.workspaceId", "must not be set for provider arms (set url)")
    if rw.url is None:
        raise ConfigError(f"{key}.url", "is required for provider arms (the instance's remote-write URL)")
    if not rw.url.startswith("https://") and "-intranet." not in rw.url:
        raise ConfigError(f"{key}.url", f"must be https:// (or the in-VPC -intranet endpoint); got {rw.url!r}")
    target = arms_region(rw.url)
    if target is None:
        raise ConfigError(f"{key}.url", f"{rw.url!r} is not an ARMS endpoint (<region>.arms.aliyuncs.com)")
    if target != region:
        where = "outside mainland China" if target not in mainland_regions else f"in {target}"
        raise ConfigError(f"{key}.url", f"writes metrics {where}, not in the stack's region {region} "
                                        "(metrics stay in the stack's region)")
