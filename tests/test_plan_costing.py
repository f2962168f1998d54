"""The plan's cost comes from the existing cost engine: same line items, same per-token formula."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from gpufleet.core.config import load_stack
from gpufleet.core.cost import compute_stack_cost, default_price_catalog
from gpufleet.core.cost_inputs import cost_inputs_for, fx_for
from gpufleet.plan.costing import plan_cost
from gpufleet.plan.fleet import FleetInputs, OtherRelease, plan_fleet


def _engine(cfg, desired, maximum):
    inputs = cost_inputs_for(cfg)
    pools = tuple(replace(p, desired=desired, max=maximum) if p.name == "gpu" else p for p in inputs.node_pools)
    return compute_stack_cost(replace(inputs, node_pools=pools), default_price_catalog(), fx_for(cfg))


@pytest.mark.parametrize("stack, currency", [("prod-us-east-1", "USD"), ("prod-cn-hangzhou", "CNY")])
def test_cost_at_average_and_peak_is_the_engine_with_the_planned_pool(stack, currency):
    cfg = load_stack(stack)
    fleet = plan_fleet(FleetInputs(30, 90, 30, 0.3, "zone", len(cfg.network.zones), 1, cfg.gpus_per_node,
                                   (OtherRelease("green", 1, 1, 1, 2),)))
    cost = plan_cost(cfg, fleet, knee_rps=30, knee_tokens_per_s=3000, model="m")
    engine = _engine(cfg, fleet.pool_nodes_avg, fleet.pool_nodes_peak)
    assert cost.currency == currency
    assert cost.monthly_average == engine.desired.monthly
    assert cost.monthly_peak == engine.maximum.monthly
    assert cost.monthly_peak > cost.monthly_average
    gpu_line = next(i for i in cost.stack.line_items if i.key == "pool:gpu:instances")
    assert (gpu_line.quantity, gpu_line.quantity_max) == (fleet.pool_nodes_avg, fleet.pool_nodes_peak)


def test_cost_per_million_output_tokens():
    cfg = load_stack("prod-us-east-1")
    fleet = plan_fleet(FleetInputs(36, 40, 20, 0.3, "zone", 3, 1, 1))
    cost = plan_cost(cfg, fleet, knee_rps=36, knee_tokens_per_s=4500, model="m")
    peak_hourly = _engine(cfg, fleet.pool_nodes_peak, fleet.pool_nodes_peak).desired.hourly
    avg_hourly = _engine(cfg, fleet.pool_nodes_avg, fleet.pool_nodes_avg).desired.hourly
    per_request = Decimal(4500) / Decimal(36)  # 125 output tokens per request at the knee
    million, hour = Decimal(1_000_000), Decimal(3600)
    assert cost.output_tokens_per_request == per_request
    assert cost.per_million["knee"].per_million == peak_hourly / (4500 * fleet.max_replicas * hour) * million
    assert cost.per_million["peak"].per_million == peak_hourly / (40 * per_request * hour) * million
    assert cost.per_million["average"].per_million == avg_hourly / (20 * per_request * hour) * million
    assert cost.per_million["knee"].per_million < cost.per_million["peak"].per_million
    doc = cost.to_dict()
    assert doc["monthly_average"] == str(cost.monthly_average.quantize(Decimal("0.01")))
    assert doc["stack"]["schema"] == "gpufleet.cost/v1"


def test_a_knee_without_tokens_is_not_priced():
    cfg = load_stack("prod-us-east-1")
    with pytest.raises(ValueError) as exc:
        plan_cost(cfg, plan_fleet(FleetInputs(36, 40, 20, 0.3, "zone", 3, 1, 1)), knee_rps=36,
                  knee_tokens_per_s=0.0, model="m")
    assert str(exc.value) == "the knee produced no output tokens (0.0 tokens/s); nothing to price"


def test_a_spot_pool_above_an_on_demand_floor_is_priced_as_gpufleet_cost_prices_it():
    cfg = load_stack("prod-us-east-1")
    spot = cfg.model_copy(update={"gpu_pool": cfg.gpu_pool.model_copy(update={"capacity": "spot", "on_demand_floor": 2})})
    fleet = plan_fleet(FleetInputs(36, 120, 60, 0.3, "zone", 3, 1, 1))
    cost = plan_cost(spot, fleet, knee_rps=36, knee_tokens_per_s=4500, model="m")
    lines = {i.key: i for i in cost.stack.line_items}
    assert (lines["pool:gpu:instances"].quantity, lines["pool:gpu:instances"].quantity_max) == (2, 2)
    assert lines["pool:gpu-spot:instances"].quantity == fleet.pool_nodes_avg - 2
    assert lines["pool:gpu-spot:instances"].quantity_max == fleet.pool_nodes_peak - 2
