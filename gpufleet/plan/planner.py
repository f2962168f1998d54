"""Tie a knee to one stack: the release's shape, the fleet, the limits, the edit and the cost.

Everything here is offline and deterministic given the knee, so the CLI and
the tests share it; the sweep that produced the knee is elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gpufleet.core.config import StackConfig, load_stack, stack_file
from gpufleet.core.errors import StackConfigError
from gpufleet.core.release_config import resolve_release
from gpufleet.plan.costing import PlanCost, plan_cost
from gpufleet.plan.fleet import FleetInputs, FleetPlan, OtherRelease, Redundancy, plan_fleet
from gpufleet.plan.limits import PlanRefused, PoolLimit, check_pool_limit
from gpufleet.plan.writeback import Change, WriteError, apply_changes, fleet_changes


@dataclass(frozen=True)
class Demand:
    peak_rps: float
    avg_rps: float
    headroom: float = 0.3
    redundancy: Redundancy = "zone"


@dataclass(frozen=True)
class StackPlan:
    cfg: StackConfig
    release: str
    gpus_per_replica: int
    fleet: FleetPlan
    limit: PoolLimit
    changes: tuple[Change, ...]
    old_text: str
    new_text: str
    cost: PlanCost
    path: Path


def release_config(cfg: StackConfig, release: str) -> StackConfig:
    """`cfg` when it has `release`, else a one-line config error naming the choices."""
    if release not in cfg.releases:
        raise StackConfigError(cfg.stack, "gpufleet:releases",
                               f"no release '{release}' (allowed: {', '.join(cfg.releases)})")
    return cfg


def gpus_per_replica(cfg: StackConfig, release: str) -> int:
    return resolve_release(release, cfg.releases[release], gpu_model=cfg.gpu_model).tensor_parallel_size


def fleet_inputs(cfg: StackConfig, release: str, knee_rps: float, demand: Demand) -> FleetInputs:
    others = tuple(
        OtherRelease(name, gpus_per_replica(cfg, name), r.replicas, r.effective_min_replicas, r.effective_max_replicas)
        for name, r in cfg.releases.items() if name != release
    )
    return FleetInputs(
        knee_rps=knee_rps, peak_rps=demand.peak_rps, avg_rps=demand.avg_rps, headroom=demand.headroom,
        redundancy=demand.redundancy, zones=len(cfg.network.zones), gpus_per_replica=gpus_per_replica(cfg, release),
        gpus_per_node=cfg.gpus_per_node, others=others,
    )


def plan_stack(cfg: StackConfig, release: str, *, knee_rps: float, knee_tokens_per_s: float, demand: Demand,
               root: Path | None = None) -> StackPlan:
    """The whole plan for one stack; PlanRefused (one line) when a limit or the stack's rules say no."""
    fleet = plan_fleet(fleet_inputs(cfg, release, knee_rps, demand))
    limit = check_pool_limit(cfg, fleet)
    path = stack_file(cfg.stack, root)
    old = path.read_text(encoding="utf-8")
    auto = cfg.releases[release].autoscaling
    in_autoscaling = frozenset(n for n, v in (("minReplicas", auto.min_replicas), ("maxReplicas", auto.max_replicas))
                               if v is not None)
    changes = tuple(fleet_changes(release, fleet, in_autoscaling))
    try:
        new = apply_changes(old, changes, where=f"stack '{cfg.stack}': {path.name}")
        load_stack(cfg.stack, text=new, root=root)
    except (StackConfigError, WriteError) as exc:
        raise PlanRefused(f"the plan cannot be applied: {exc}") from None
    release_model = cfg.releases[release].served_model_name or cfg.releases[release].model
    cost = plan_cost(cfg, fleet, knee_rps=knee_rps, knee_tokens_per_s=knee_tokens_per_s, model=release_model)
    return StackPlan(cfg, release, fleet.inputs.gpus_per_replica, fleet, limit, changes, old, new, cost, path)
