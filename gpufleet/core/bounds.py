"""Upper bounds on every size and count of a stack, from `catalog/limits.yaml`.

pydantic checks types and lower bounds; without an upper bound a typo such as
`maxSize: 100000000000000000000` was accepted (and overflowed the cost
engine's decimals). Bounds come from the clouds' quotas where one exists.
"""

from __future__ import annotations

from decimal import Decimal
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from gpufleet.core.errors import ConfigError

LIMITS_YAML = Path(__file__).resolve().parent / "catalog" / "limits.yaml"


@lru_cache(maxsize=None)
def limits(path: Path = LIMITS_YAML) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@dataclass(frozen=True)
class PoolLimit:
    """The most nodes one pool of a cloud may hold, with why and where that comes from."""

    cloud: str
    max_nodes: int
    pool: str
    why: str
    source: str


def pool_limit(cloud: str, pool: str) -> PoolLimit:
    """`pool`: 'system' or 'gpu'."""
    v = limits()["clouds"][cloud]["pools"][pool]
    return PoolLimit(cloud, int(v["max_nodes"]), v["pool"], v["why"], v["source"])


def check_bounds(cfg: Any, project: str) -> None:
    """ConfigError for the first value above its bound (cfg: a StackConfig)."""
    for key, name, pool in (("systemPool", "system", cfg.system_pool), ("gpuPool", "gpu", cfg.gpu_pool)):
        node_limit = pool_limit(cfg.cloud, name).max_nodes
        sizes = (("minSize", pool.min_size), ("desiredSize", pool.desired_size), ("maxSize", pool.max_size),
                 ("onDemandFloor", getattr(pool, "on_demand_floor", None) or 0))
        for field, value in sizes:
            if value > node_limit:
                raise ConfigError(f"{project}:{key}.{field}", f"{value} is above the {node_limit} nodes one {cfg.cloud} "
                                                              f"{name} pool may have (allowed: 0-{node_limit})")
    stack = limits()["stack"]
    cidrs = cfg.cluster.public_access_cidrs
    if len(cidrs) > stack["max_public_access_cidrs"]:
        raise ConfigError(f"{project}:cluster.publicAccessCidrs", f"lists {len(cidrs)} CIDRs "
                                                                  f"(allowed: at most {stack['max_public_access_cidrs']})")
    cap = Decimal(stack["max_billing_gb_month"])
    for field, value in (("logIngestGbMonth", cfg.billing.log_ingest_gb_month),
                         ("natProcessedGbMonth", cfg.billing.nat_processed_gb_month)):
        if not value.is_finite() or value > cap:
            raise ConfigError(f"{project}:billing.{field}", f"{value} is not a number of GB a month from 0 to {cap}")


def check_release_count(releases: Any, project: str) -> None:
    cap = limits()["stack"]["max_releases"]
    if hasattr(releases, "__len__") and len(releases) > cap:
        raise ConfigError(f"{project}:releases", f"lists {len(releases)} releases (allowed: at most {cap})")
