"""Refuse a plan the cloud or the stack's own rules cannot carry, in one line.

Two gates, both before anything is written:

* the node-pool ceiling of the cloud (`core/catalog/limits.yaml`, the table the stack validation
  reads too: an EKS cluster for Karpenter-provisioned GPU nodes, an ACK node pool's Auto Scaling group);
* the stack's validation (`parse_stack_config`, the same one `pulumi up` and
  `gpufleet preview` run) over the stack file as it would be after the plan.
"""

from __future__ import annotations

from gpufleet.core.bounds import PoolLimit, pool_limit
from gpufleet.core.config import StackConfig
from gpufleet.plan.fleet import FleetPlan


class PlanRefused(ValueError):
    """The plan exceeds a limit; the message is the one line the user sees."""


def check_pool_limit(cfg: StackConfig, fleet: FleetPlan) -> PoolLimit:
    """The cloud's limit, or PlanRefused when the planned pool maximum exceeds it."""
    limit = pool_limit(cfg.cloud, "gpu")
    if fleet.pool_max > limit.max_nodes:
        raise PlanRefused(
            f"stack '{cfg.stack}': gpufleet:gpuPool.maxSize: the plan needs {fleet.pool_max} "
            f"{cfg.gpu_pool.instance_type} nodes, more than one {limit.pool} may hold ({limit.max_nodes}: "
            f"{limit.why}); lower --peak-rps, spread the peak over more stacks, or use larger GPU nodes"
        )
    return limit
