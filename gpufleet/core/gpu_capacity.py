"""Which GPU instance types a stack's GPU nodes may use, and how far they may scale.

A pool that names one instance type in one zone fails exactly when it is needed: GPU
stockouts are the most common scale-up failure. So the GPU pool may use every instance
type that (a) the region offers, (b) carries the pool's GPU model, and (c) fits every
release as it is deployed: its tensor-parallel size in GPUs and its CPU/memory requests.
The GPU model stays fixed because the Deployment pins it (node label) and vLLM's sizing
(tensor parallelism, dtype, memory) is per GPU model. Config may narrow and order the
list (`gpufleet:gpuPool.instanceTypes`); otherwise the pool's own type comes first and the
rest follow by price per GPU. The ceiling (`maxSize` nodes of the primary type, as GPUs,
and the CPUs those GPUs bring on the most CPU-rich allowed type) caps cost whichever mix
the autoscaler picks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gpufleet.core.catalog import InstanceType, load_instance_catalog
from gpufleet.core.errors import ConfigError
from gpufleet.core.quantity import cpu_cores, memory_gib

if TYPE_CHECKING:
    from gpufleet.core.config import StackConfig

PROJECT = "gpufleet"
# Share of a node's CPU and memory that pods may request (kubelet reservation, DaemonSets).
ALLOCATABLE_SHARE = 0.9


@dataclass(frozen=True)
class GpuCapacityPlan:
    """The GPU pool as the autoscaler sees it."""

    instance_types: tuple[str, ...]  # preference order; the first is gpuPool.instanceType
    gpus_per_node: dict[str, int]
    zones: tuple[str, ...]
    capacity_types: tuple[str, ...]  # 'on-demand' and, where allowed, 'spot'
    on_demand_floor_nodes: int  # nodes that stay on-demand when spot is allowed
    min_nodes: int
    desired_nodes: int
    max_nodes: int
    gpu_limit: int  # GPUs across the pool at most
    cpu_limit: int  # vCPUs those GPUs may bring at most

    @property
    def spot(self) -> bool:
        return "spot" in self.capacity_types


def _replica_needs(cfg: StackConfig) -> list[tuple[str, int, float, float]]:
    """(release, GPUs, CPU cores, memory GiB) each replica requests, as the Deployment will."""
    from gpufleet.core.workloads import release_params  # workloads imports config; avoid a cycle

    needs = []
    for name, release in cfg.releases.items():
        params = release_params(cfg, name, release)
        needs.append((name, params.tensor_parallel_size, cpu_cores(params.resources.cpu_request),
                      memory_gib(params.resources.memory_request)))
    return needs


def fit_problem(cfg: StackConfig, instance_type: str, spec: InstanceType) -> str | None:
    """Why one instance type cannot host every release of this stack, or None if it can."""
    gpu = spec.gpu
    if gpu is None:
        return "has no GPU"
    if gpu.model != cfg.gpu_model:
        return f"carries {gpu.model}, not the pool's {cfg.gpu_model} (the releases are sized for that GPU)"
    for name, gpus, cpu, mem in _replica_needs(cfg):
        if gpus > gpu.count:
            return f"has {gpu.count} GPUs; release {name!r} needs {gpus} per replica"
        if cpu > spec.vcpu * ALLOCATABLE_SHARE or mem > spec.memory_gib * ALLOCATABLE_SHARE:
            return (f"has {spec.vcpu} vCPU / {spec.memory_gib} GiB; release {name!r} requests "
                    f"{cpu:g} vCPU / {mem:g} GiB per replica")
    return None


def fitting_types(cfg: StackConfig) -> list[str]:
    """Every offered type that fits, the pool's own type first, then by price per GPU (cheapest first)."""
    cloud = load_instance_catalog().cloud(cfg.cloud)
    offered = cloud.regions[cfg.region].available_gpu_types
    fits = [t for t in offered if fit_problem(cfg, t, cloud.instance_types[t]) is None]
    rest = sorted((t for t in fits if t != cfg.gpu_pool.instance_type), key=lambda t: _price_per_gpu(cfg, t))
    return [cfg.gpu_pool.instance_type, *rest]


def _price_per_gpu(cfg: StackConfig, instance_type: str) -> float:
    from gpufleet.core.cost import default_price_catalog
    from gpufleet.core.cost.catalog import PriceNotFoundError

    spec = load_instance_catalog().cloud(cfg.cloud).instance_types[instance_type]
    try:
        price = default_price_catalog().instance_price(cfg.stack, cfg.cloud, cfg.region, instance_type, "on-demand")
    except PriceNotFoundError:
        return math.inf
    return float(price.amount) / (spec.gpu.count if spec.gpu else 1)  # same currency within a cloud


def check_gpu_capacity(cfg: StackConfig) -> None:
    """One-line errors for `gpuPool.instanceTypes`, `gpuPool.onDemandFloor` and spot in prod."""
    pool = cfg.gpu_pool
    key = f"{PROJECT}:gpuPool"
    cloud = load_instance_catalog().cloud(cfg.cloud)
    offered = cloud.regions[cfg.region].available_gpu_types
    for index, name in enumerate(pool.instance_types):
        where = f"{key}.instanceTypes.{index}"
        if name not in offered:
            raise ConfigError(where, f"{name!r} is not offered in {cfg.region} (allowed: {', '.join(offered)})")
        problem = fit_problem(cfg, name, cloud.instance_types[name])
        if problem:
            allowed = ", ".join(fitting_types(cfg))
            raise ConfigError(where, f"{name!r} {problem} (types that fit: {allowed})")
    if pool.instance_types and pool.instance_types[0] != pool.instance_type:
        raise ConfigError(f"{key}.instanceTypes", f"must start with gpuPool.instanceType {pool.instance_type!r} "
                                                  f"(got {pool.instance_types[0]!r}): the pool's own type is the first choice")
    if len(set(pool.instance_types)) != len(pool.instance_types):
        raise ConfigError(f"{key}.instanceTypes", "lists a type twice")
    floor = pool.on_demand_floor
    if floor is not None:
        if pool.capacity != "spot":
            raise ConfigError(f"{key}.onDemandFloor", "applies only with capacity: spot (on-demand pools are all on-demand)")
        if floor > pool.max_size:
            raise ConfigError(f"{key}.onDemandFloor", f"{floor} is above maxSize {pool.max_size}")
    if pool.capacity == "spot" and cfg.environment == "prod" and (floor is None or floor < pool.min_size):
        raise ConfigError(f"{key}.capacity", "spot-only GPU capacity is not allowed for prod stacks (allowed: on-demand, "
                                             f"or spot above gpuPool.onDemandFloor >= minSize {pool.min_size})")


def gpu_capacity_plan(cfg: StackConfig) -> GpuCapacityPlan:
    """The validated pool, for Karpenter (EKS), ACK node-pool autoscaling and cost."""
    pool = cfg.gpu_pool
    cloud = load_instance_catalog().cloud(cfg.cloud)
    types = tuple(pool.instance_types) or tuple(fitting_types(cfg))
    gpus = {t: cloud.instance_types[t].gpu.count for t in types}  # type: ignore[union-attr]
    gpu_limit = pool.max_size * cfg.gpus_per_node
    cpu_per_gpu = max(cloud.instance_types[t].vcpu / gpus[t] for t in types)
    spot = pool.capacity == "spot"
    return GpuCapacityPlan(
        instance_types=types, gpus_per_node=gpus, zones=tuple(cfg.network.zones),
        capacity_types=("on-demand", "spot") if spot else ("on-demand",),
        on_demand_floor_nodes=(pool.on_demand_floor or 0) if spot else pool.max_size,
        min_nodes=pool.min_size, desired_nodes=pool.desired_size, max_nodes=pool.max_size,
        gpu_limit=gpu_limit, cpu_limit=math.ceil(gpu_limit * cpu_per_gpu))



def ack_scaling_settings(plan: GpuCapacityPlan) -> dict[str, object]:
    """Arguments of the ACK GPU node pool (`alicloud.cs.NodePool`) that follow the plan.

    ESS tries `instance_types` in order until one launches (the fallback order). On-demand
    pools spread evenly over the zones' vSwitches (BALANCE); spot pools keep
    `on_demand_base_capacity` nodes on-demand, buy the rest as spot across the cheapest
    pools (COST_OPTIMIZED) and fall back to on-demand when spot is out of stock.
    """
    settings: dict[str, object] = {"instance_types": list(plan.instance_types), "multi_az_policy": "BALANCE",
                                   "spot_strategy": "NoSpot"}
    if plan.spot:
        settings.update(multi_az_policy="COST_OPTIMIZED", spot_strategy="SpotAsPriceGo",
                        on_demand_base_capacity=plan.on_demand_floor_nodes,
                        on_demand_percentage_above_base_capacity=0, compensate_with_on_demand=True,
                        spot_instance_pools=min(10, len(plan.instance_types)))
    return settings
