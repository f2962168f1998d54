"""From a measured knee to a fleet: replicas, GPU nodes and autoscaling limits.

Pure arithmetic, property-tested (tests/test_plan_fleet.py). The rules:

* **headroom**: a replica is planned to carry at most `knee / (1 + headroom)`,
  so `base(rps) = ceil(rps x (1 + headroom) / knee)` replicas (at least 1);
* **redundancy** (for the loss of a zone): replicas are spread evenly over the
  stack's zones (the model server's topology spread, maxSkew 1), so a zone
  holds at most `ceil(N / zones)`. With `zone` the plan is the smallest N whose
  survivors after losing the fullest zone still number `base`; `replica` is
  the plain N+1; `none` adds nothing;
* **nodes**: replicas of every release on the GPU pool are placed zone by
  zone (the extra replicas of every release counted in the same zones, the
  worst case), and each zone rounds up to whole nodes of `gpus_per_node` GPUs.
  GPUs per replica and per node are powers of two, so replicas pack a node
  exactly;
* the release gets `minReplicas` for the average load, `maxReplicas` for the
  peak and `replicas` = `minReplicas` (the HPA moves between them); the pool
  gets `minSize`/`desiredSize`/`maxSize` for the releases at their min, their
  replicas and their max together, since a promotion runs two releases at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

Redundancy = Literal["zone", "replica", "none"]
REDUNDANCY_MODES: tuple[str, ...] = ("zone", "replica", "none")


@dataclass(frozen=True)
class OtherRelease:
    """A release that shares the GPU pool and keeps its own replica bounds."""

    name: str
    gpus_per_replica: int
    replicas: int
    min_replicas: int
    max_replicas: int


@dataclass(frozen=True)
class FleetInputs:
    knee_rps: float  # per replica, measured
    peak_rps: float
    avg_rps: float
    headroom: float
    redundancy: Redundancy
    zones: int
    gpus_per_replica: int
    gpus_per_node: int
    others: tuple[OtherRelease, ...] = ()

    def __post_init__(self) -> None:
        for name in ("knee_rps", "peak_rps", "headroom"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > (0 if name != "headroom" else -1e-12)):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if not (math.isfinite(self.avg_rps) and 0 < self.avg_rps <= self.peak_rps):
            raise ValueError(f"the average rate must be > 0 and at most the peak ({self.peak_rps:g}), got {self.avg_rps:g}")
        if self.redundancy not in REDUNDANCY_MODES:
            raise ValueError(f"redundancy must be one of {', '.join(REDUNDANCY_MODES)}, got {self.redundancy!r}")
        if self.zones < 1 or (self.redundancy == "zone" and self.zones < 2):
            raise ValueError(f"zone redundancy needs at least 2 zones, got {self.zones}")
        if self.gpus_per_replica < 1 or self.gpus_per_node % self.gpus_per_replica:
            raise ValueError(f"{self.gpus_per_replica} GPUs per replica do not pack a {self.gpus_per_node}-GPU node")


@dataclass(frozen=True)
class FleetPlan:
    inputs: FleetInputs
    base_avg: int  # replicas the average load needs, with headroom, before redundancy
    base_peak: int
    min_replicas: int
    max_replicas: int
    replicas: int
    release_nodes_avg: int  # nodes this release alone occupies
    release_nodes_peak: int
    pool_min: int  # every release at its minimum
    pool_desired: int  # every release at its replicas
    pool_max: int  # every release at its maximum (a promotion runs two at once)
    pool_nodes_avg: int  # this release at min, the others at their replicas: what the average costs
    pool_nodes_peak: int  # this release at max, the others at their replicas: what the peak costs

    @property
    def replicas_per_node(self) -> int:
        return self.inputs.gpus_per_node // self.inputs.gpus_per_replica

    @property
    def karpenter_gpu_limit(self) -> int:
        """The same ceiling as a Karpenter NodePool `spec.limits` on `nvidia.com/gpu`."""
        return self.pool_max * self.inputs.gpus_per_node

    @property
    def peak_capacity_rps(self) -> float:
        """What the planned maximum serves at the knee with every zone up."""
        return self.max_replicas * self.inputs.knee_rps

    def to_dict(self) -> dict[str, Any]:
        keys = ("base_avg", "base_peak", "min_replicas", "max_replicas", "replicas", "release_nodes_avg",
                "release_nodes_peak", "pool_min", "pool_desired", "pool_max", "pool_nodes_avg", "pool_nodes_peak")
        return {
            **{k: getattr(self, k) for k in keys},
            "replicas_per_node": self.replicas_per_node,
            "karpenter_gpu_limit": self.karpenter_gpu_limit,
            "peak_capacity_rps": self.peak_capacity_rps,
            "inputs": {**vars(self.inputs), "others": [vars(o) for o in self.inputs.others]},
        }


def _dec(value: float) -> Decimal:
    """Decimal of the value as written (1.3, not 1.3000000000000000444): ceilings stay exact."""
    return Decimal(repr(value))


def base_replicas(rps: float, knee_rps: float, headroom: float) -> int:
    """Replicas that carry `rps` with every replica at or below knee / (1 + headroom)."""
    need = _dec(rps) * (1 + _dec(headroom)) / _dec(knee_rps)
    return max(1, math.ceil(need))


def zone_spread(replicas: int, zones: int) -> list[int]:
    """Replicas per zone under an even spread (maxSkew 1), fullest zones first."""
    return [replicas // zones + (1 if z < replicas % zones else 0) for z in range(zones)]


def survivors(replicas: int, zones: int) -> int:
    """Replicas left after the fullest zone is lost."""
    return replicas - max(zone_spread(replicas, zones))


def with_redundancy(base: int, zones: int, mode: Redundancy) -> int:
    """The smallest count that still leaves `base` replicas after the planned failure."""
    if mode == "none":
        return base
    if mode == "replica":
        return base + 1
    n = base + 1
    while survivors(n, zones) < base:
        n += 1
    return n


def nodes_for(releases: list[tuple[int, int]], zones: int, gpus_per_node: int) -> int:
    """Whole nodes for [(replicas, gpus per replica), ...] placed zone by zone."""
    per_zone = [0] * zones
    for replicas, gpus in releases:
        for z, count in enumerate(zone_spread(replicas, zones)):
            per_zone[z] += count * gpus
    return sum(math.ceil(g / gpus_per_node) for g in per_zone)


def plan_fleet(inputs: FleetInputs) -> FleetPlan:
    base_avg = base_replicas(inputs.avg_rps, inputs.knee_rps, inputs.headroom)
    base_peak = base_replicas(inputs.peak_rps, inputs.knee_rps, inputs.headroom)
    lo = with_redundancy(base_avg, inputs.zones, inputs.redundancy)
    hi = with_redundancy(base_peak, inputs.zones, inputs.redundancy)
    tp, z, gpn = inputs.gpus_per_replica, inputs.zones, inputs.gpus_per_node

    def pool(mine: int, attr: str) -> int:
        return nodes_for([(mine, tp)] + [(getattr(o, attr), o.gpus_per_replica) for o in inputs.others], z, gpn)

    return FleetPlan(
        inputs=inputs, base_avg=base_avg, base_peak=base_peak, min_replicas=lo, max_replicas=hi, replicas=lo,
        release_nodes_avg=nodes_for([(lo, tp)], z, gpn), release_nodes_peak=nodes_for([(hi, tp)], z, gpn),
        pool_min=pool(lo, "min_replicas"), pool_desired=pool(lo, "replicas"), pool_max=pool(hi, "max_replicas"),
        pool_nodes_avg=pool(lo, "replicas"), pool_nodes_peak=pool(hi, "replicas"),
    )
