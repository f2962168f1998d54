"""The GPU pool's cost range: floor at the cheapest allowed type, ceiling at the dearest, spot marked."""

from __future__ import annotations

from decimal import Decimal

import yaml

from conftest import edited_stack
from gpufleet.core.config import load_stack, parse_stack_config, project_config_defaults
from gpufleet.core.cost import compute_stack_cost, default_price_catalog
from gpufleet.core.cost.capacity import gpu_pool_bounds, per_type_bounds
from gpufleet.core.cost_inputs import cost_inputs_for, fx_for, gpu_pool_range

CATALOG = default_price_catalog()


def hourly(cfg, instance_type: str, capacity: str = "on-demand") -> Decimal:
    return CATALOG.instance_price(cfg.stack, cfg.cloud, cfg.region, instance_type, capacity).amount


def test_eks_ceiling_is_the_karpenter_gpu_limit_at_the_dearest_type_per_gpu():
    cfg = load_stack("prod-us-east-1")  # 2..4..16 x g6e.2xlarge (1 L40S); allowed up to g6e.48xlarge (8)
    floor, desired, ceiling = gpu_pool_bounds(gpu_pool_range(cfg), CATALOG, fx_for(cfg))
    assert (floor.instance_type, floor.nodes) == ("g6e.2xlarge", 2)
    assert desired.monthly == hourly(cfg, "g6e.2xlarge") * 4 * 730
    # 16 GPUs at most: two g6e.48xlarge, the dearest per GPU among the allowed types
    assert (ceiling.instance_type, ceiling.nodes) == ("g6e.48xlarge", 2)
    assert ceiling.monthly == hourly(cfg, "g6e.48xlarge") * 2 * 730
    assert floor.monthly <= desired.monthly <= ceiling.monthly


def test_ack_ceiling_is_max_nodes_of_the_dearest_type_per_node():
    cfg = load_stack("prod-cn-hangzhou")
    rng = gpu_pool_range(cfg)
    floor, _, ceiling = gpu_pool_bounds(rng, CATALOG, fx_for(cfg))
    assert rng.limit_unit == "nodes" and ceiling.nodes == cfg.gpu_pool.max_size
    assert ceiling.instance_type == max(rng.instance_types, key=lambda t: hourly(cfg, t))
    assert floor.instance_type == min(rng.instance_types, key=lambda t: hourly(cfg, t))
    assert ceiling.estimate and ceiling.monthly_usd == ceiling.monthly / cfg.cny_per_usd  # Alibaba prices are estimates


def test_every_allowed_type_has_its_own_range():
    cfg = load_stack("prod-us-east-1")
    per_type = per_type_bounds(gpu_pool_range(cfg), CATALOG, fx_for(cfg))
    assert list(per_type) == ["g6e.2xlarge", "g6e.12xlarge", "g6e.48xlarge"]
    assert [b.nodes for b in per_type["g6e.12xlarge"]] == [1, 1, 4]  # 2, 4 and 16 GPUs in 4-GPU nodes


def test_spot_above_the_floor_bills_spot_lines_marked_with_their_source():
    raw = yaml.safe_load(edited_stack("prod-us-east-1", {"gpufleet:gpuPool.capacity": "spot",
                                                         "gpufleet:gpuPool.onDemandFloor": 2}))["config"]
    cfg = parse_stack_config("prod-us-east-1", {**project_config_defaults(), **raw})
    cost = compute_stack_cost(cost_inputs_for(cfg), CATALOG, fx_for(cfg))
    lines = {i.key: i for i in cost.line_items}
    assert lines["pool:gpu:instances"].resource == "gpu pool: g6e.2xlarge (on-demand)"
    assert (lines["pool:gpu:instances"].quantity, lines["pool:gpu:instances"].quantity_max) == (2, 2)
    spot = lines["pool:gpu-spot:instances"]
    assert spot.resource == "gpu-spot pool: g6e.2xlarge (spot)"
    assert (spot.quantity, spot.quantity_max, spot.unit_price) == (2, 14, hourly(cfg, "g6e.2xlarge", "spot"))
    assert spot.source.startswith("https://")
    _, desired, ceiling = gpu_pool_bounds(gpu_pool_range(cfg), CATALOG, fx_for(cfg))
    assert (desired.spot_nodes, ceiling.spot_nodes) == (2, 0)  # ceiling: 2 x 8-GPU nodes, both within the floor
