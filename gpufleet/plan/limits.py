"""Refuse a plan the cloud or the stack's own rules cannot carry, in one line.

Two gates, both before anything is written:

* the node-pool ceiling of the cloud (`core/catalog/pool_limits.yaml`: an EKS
  cluster for Karpenter-provisioned GPU nodes, an ACK node pool's Auto Scaling group);
* the stack's validation (`parse_stack_config`, the same one `pulumi up` and
  `gpufleet preview` run) over the stack file as it would be after the plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from gpufleet.core.config import StackConfig
from gpufleet.plan.fleet import FleetPlan

LIMITS_YAML = Path(__file__).resolve().parents[1] / "core" / "catalog" / "pool_limits.yaml"


class PlanRefused(ValueError):
    """The plan exceeds a limit; the message is the one line the user sees."""


@dataclass(frozen=True)
class PoolLimit:
    cloud: str
    max_nodes: int
    pool: str
    why: str
    source: str


@lru_cache(maxsize=4)
def pool_limits(path: Path = LIMITS_YAML) -> dict[str, PoolLimit]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {cloud: PoolLimit(cloud, int(v["max_nodes_per_pool"]), v["pool"], v["why"], v["source"])
            for cloud, v in doc["clouds"].items()}


def check_pool_limit(cfg: StackConfig, fleet: FleetPlan) -> PoolLimit:
    """The cloud's limit, or PlanRefused when the planned pool maximum exceeds it."""
    limit = pool_limits()[cfg.cloud]
    if fleet.pool_max > limit.max_nodes:
        raise PlanRefused(
            f"stack '{cfg.stack}': gpufleet:gpuPool.maxSize: the plan needs {fleet.pool_max} "
            f"{cfg.gpu_pool.instance_type} nodes, more than one {limit.pool} may hold ({limit.max_nodes}: "
            f"{limit.why}); lower --peak-rps, spread the peak over more stacks, or use larger GPU nodes"
        )
    return limit
