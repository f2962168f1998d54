"""What the GPU pool can cost once an autoscaler picks the instance types: floor, desired, ceiling.

With several allowed instance types the monthly bill depends on what the autoscaler
launches. Finance needs the range, not one number:
- floor: the pool's minimum at the cheapest allowed type (per node, or per GPU where the
  limit is in GPUs);
- desired: the desired size of the pool's own type (what the line items price);
- ceiling: the autoscaling limit at the most expensive allowed type. Karpenter's limit
  counts GPUs, so its ceiling is that many GPUs of the dearest type per GPU; ACK's limit
  counts nodes, so its ceiling is maxSize nodes of the dearest type per node.
Spot capacity above an on-demand floor is priced at the catalog's spot price and marked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from gpufleet.core.cost.catalog import PriceCatalog
from gpufleet.core.cost.model import HOURS_PER_MONTH, FxRate

LimitUnit = Literal["gpus", "nodes"]


@dataclass(frozen=True)
class GpuPoolRange:
    """The GPU pool as the autoscaler may grow it."""

    stack: str
    cloud: str
    region: str
    billing_currency: str
    instance_types: tuple[str, ...]  # the pool's own type first
    gpus_per_node: dict[str, int]
    min_nodes: int
    desired_nodes: int
    max_nodes: int
    limit_unit: LimitUnit
    on_demand_nodes: int  # nodes at the on-demand price; the rest (spot pools) at spot


@dataclass(frozen=True)
class Bound:
    name: str  # floor | desired | ceiling
    instance_type: str
    nodes: int
    spot_nodes: int
    monthly: Decimal  # billing currency
    monthly_usd: Decimal
    sources: tuple[str, ...]
    estimate: bool


def _node_hourly(rng: GpuPoolRange, catalog: PriceCatalog, instance_type: str, capacity: str):
    return catalog.instance_price(rng.stack, rng.cloud, rng.region, instance_type, capacity)  # type: ignore[arg-type]


def _bound(name: str, rng: GpuPoolRange, catalog: PriceCatalog, fx: FxRate, instance_type: str, nodes: int) -> Bound:
    on_demand = min(nodes, rng.on_demand_nodes)
    spot = nodes - on_demand
    prices = [(on_demand, _node_hourly(rng, catalog, instance_type, "on-demand"))]
    if spot:
        prices.append((spot, _node_hourly(rng, catalog, instance_type, "spot")))
    monthly = sum((fx.convert(p.amount * count, p.currency, rng.billing_currency) * HOURS_PER_MONTH
                   for count, p in prices), Decimal(0))
    return Bound(name, instance_type, nodes, spot, monthly, fx.convert(monthly, rng.billing_currency, "USD"),
                 tuple(dict.fromkeys(p.source for _, p in prices)), any(p.estimate for _, p in prices))


def _nodes_of(rng: GpuPoolRange, instance_type: str, primary_nodes: int, *, ceiling: bool = False) -> int:
    """Nodes of one type that the pool's size (in primary-type nodes) allows."""
    if rng.limit_unit == "nodes":
        return primary_nodes
    gpus = primary_nodes * rng.gpus_per_node[rng.instance_types[0]]
    per_node = rng.gpus_per_node[instance_type]
    return gpus // per_node if ceiling else math.ceil(gpus / per_node)  # a GPU limit is never exceeded


def per_type_bounds(rng: GpuPoolRange, catalog: PriceCatalog, fx: FxRate) -> dict[str, tuple[Bound, Bound, Bound]]:
    """Floor, desired and ceiling if the autoscaler launched only this type, for every allowed type."""
    return {t: (_bound("floor", rng, catalog, fx, t, _nodes_of(rng, t, rng.min_nodes)),
                _bound("desired", rng, catalog, fx, t, _nodes_of(rng, t, rng.desired_nodes)),
                _bound("ceiling", rng, catalog, fx, t, _nodes_of(rng, t, rng.max_nodes, ceiling=True)))
            for t in rng.instance_types}


def gpu_pool_bounds(rng: GpuPoolRange, catalog: PriceCatalog, fx: FxRate) -> tuple[Bound, Bound, Bound]:
    """Floor, desired and ceiling of the GPU pool's monthly instance cost."""
    primary = rng.instance_types[0]
    gpus = rng.gpus_per_node

    def per_unit(t: str) -> Decimal:
        price = _node_hourly(rng, catalog, t, "on-demand").amount
        return price / gpus[t] if rng.limit_unit == "gpus" else price

    cheapest = min(rng.instance_types, key=per_unit)
    dearest = max(rng.instance_types, key=per_unit)

    return (_bound("floor", rng, catalog, fx, cheapest, _nodes_of(rng, cheapest, rng.min_nodes)),
            _bound("desired", rng, catalog, fx, primary, rng.desired_nodes),
            _bound("ceiling", rng, catalog, fx, dearest, _nodes_of(rng, dearest, rng.max_nodes, ceiling=True)))


def _bound_output(b: Bound) -> dict[str, object]:
    from gpufleet.core.cost.outputs import money

    return {"instance_type": b.instance_type, "nodes": b.nodes, "spot_nodes": b.spot_nodes,
            "monthly": money(b.monthly), "monthly_usd": money(b.monthly_usd),
            "sources": list(b.sources), "estimate": b.estimate}


def capacity_outputs(rng: GpuPoolRange, catalog: PriceCatalog, fx: FxRate) -> dict[str, object]:
    """The export shape (money as 2-place strings, like the rest of the cost export)."""
    found: dict[str, object] = {b.name: _bound_output(b) for b in gpu_pool_bounds(rng, catalog, fx)}
    found["limit_unit"] = rng.limit_unit
    found["per_type"] = {t: {b.name: _bound_output(b) for b in bounds}
                         for t, bounds in per_type_bounds(rng, catalog, fx).items()}
    return found
