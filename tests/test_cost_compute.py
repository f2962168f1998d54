"""Stack cost arithmetic, checked against totals worked out by hand (730 h/month).

Prices come from the test catalog in tests/fixtures/prices/catalog, not the live
one, so a price refresh never changes these expectations.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from gpufleet.core.cost import (
    CostInputs,
    NodePoolInputs,
    PriceNotFoundError,
    compute_stack_cost,
    load_fx,
    load_price_catalog,
    stack_cost_from_outputs,
    stack_cost_outputs,
)
from gpufleet.core.cost.compute import stored_log_gb
from gpufleet.core.cost.outputs import money

CATALOG_DIR = Path(__file__).parent / "fixtures" / "prices" / "catalog"
CATALOG = load_price_catalog(CATALOG_DIR)
FX = load_fx(CATALOG_DIR / "fx.yaml")  # 7.10 CNY per USD, as of 2026-11-01


def aws_prod() -> CostInputs:
    return CostInputs(
        stack="prod-us", cloud="aws", region="us-east-1", jurisdiction="global", billing_currency="USD",
        node_pools=(
            NodePoolInputs("system", "m7i.large", "on-demand", desired=2, max=3, disk_gb=50),
            NodePoolInputs("gpu", "g5.xlarge", "on-demand", desired=2, max=4, disk_gb=200),
        ),
        clusters=1, nat_gateways=2, load_balancers=1, public_ips=3, object_storage_gb=Decimal(100),
        log_ingest_gb_month=Decimal(30), log_retention_days=365, nat_processed_gb_month=Decimal(200),
    )


def aws_eu_spot() -> CostInputs:
    return CostInputs(
        stack="dev-eu", cloud="aws", region="eu-central-1", jurisdiction="global", billing_currency="USD",
        node_pools=(
            NodePoolInputs("system", "m7i.large", "on-demand", desired=2, max=2, disk_gb=0),
            NodePoolInputs("gpu", "g5.xlarge", "spot", desired=1, max=2, disk_gb=100),
        ),
        clusters=1, nat_gateways=1, public_ips=1,
    )


def ali_prod() -> CostInputs:
    return CostInputs(
        stack="cn-prod", cloud="alicloud", region="cn-hangzhou", jurisdiction="cn", billing_currency="CNY",
        node_pools=(
            NodePoolInputs("system", "ecs.g7.xlarge", "on-demand", desired=2, max=3, disk_gb=40),
            NodePoolInputs("gpu", "ecs.gn7i-c8g1.2xlarge", "on-demand", desired=2, max=4, disk_gb=100),
        ),
        clusters=1, nat_gateways=1, load_balancers=1, public_ips=2, object_storage_gb=Decimal(100),
        log_ingest_gb_month=Decimal(30), log_retention_days=395, nat_processed_gb_month=Decimal(100),
    )


def ali_usd_billed() -> CostInputs:
    return CostInputs(
        stack="cn-intl", cloud="alicloud", region="cn-hangzhou", jurisdiction="cn", billing_currency="USD",
        node_pools=(
            NodePoolInputs("system", "ecs.g7.xlarge", "on-demand", desired=2, max=2, disk_gb=0),
            NodePoolInputs("gpu", "ecs.gn7e-c16g1.4xlarge", "on-demand", desired=1, max=1, disk_gb=0),
        ),
    )


def monthly_by_key(cost):
    return {i.key: i.monthly for i in cost.line_items}


def test_aws_stack_with_every_line_item():
    cost = compute_stack_cost(aws_prod(), CATALOG, FX)
    assert monthly_by_key(cost) == {
        "pool:system:instances": Decimal("147.168"),  # 2 x 0.1008 x 730
        "pool:system:disks": Decimal("8.00"),  # 2 x 50 GB x 0.08
        "pool:gpu:instances": Decimal("1468.76"),  # 2 x 1.006 x 730
        "pool:gpu:disks": Decimal("32.00"),  # 2 x 200 GB x 0.08
        "cluster": Decimal("73.00"),  # 0.10 x 730
        "nat": Decimal("65.700"),  # 2 x 0.045 x 730
        "lb": Decimal("16.4250"),  # 0.0225 x 730
        "public_ip": Decimal("10.950"),  # 3 x 0.005 x 730
        "nat_processed": Decimal("9.000"),  # 200 GB x 0.045
        "object_storage": Decimal("2.300"),  # 100 GB x 0.023
        "log_ingest": Decimal("15.00"),  # 30 GB x 0.50
        "log_storage": Decimal("10.80"),  # 30 GB/month x 365 days x 24 / 730 = 360 GB x 0.03
    }
    # 147.168 + 8 + 1468.76 + 32 + 73 + 65.7 + 16.425 + 10.95 + 9 + 2.3 + 15 + 10.8
    assert cost.desired.monthly == Decimal("1859.103")
    # max: 3 x 0.1008 x 730 = 220.752; 150 GB x 0.08 = 12; 4 x 1.006 x 730 = 2937.52; 800 GB x 0.08 = 64;
    # fixed lines as above: 73 + 65.7 + 16.425 + 10.95 + 9 + 2.3 + 15 + 10.8 = 203.175
    assert cost.maximum.monthly == Decimal("3437.447")
    assert money(cost.desired.hourly, Decimal("0.0001")) == "2.5467"  # 1859.103 / 730
    assert cost.desired_usd == cost.desired and cost.maximum_usd == cost.maximum
    assert not cost.has_estimates


def test_aws_spot_pool_uses_the_catalog_spot_price():
    cost = compute_stack_cost(aws_eu_spot(), CATALOG, FX)
    assert monthly_by_key(cost) == {
        "pool:system:instances": Decimal("176.29500"),  # 2 x 0.12075 x 730
        "pool:gpu:instances": Decimal("367.3360"),  # 1 x 0.5032 (spot) x 730
        "pool:gpu:disks": Decimal("9.5200"),  # 100 GB x 0.0952
        "cluster": Decimal("73.00"),
        "nat": Decimal("37.960"),  # 0.052 x 730
        "public_ip": Decimal("3.650"),  # 0.005 x 730
    }
    assert "pool:system:disks" not in monthly_by_key(cost)  # disk_gb 0: no line
    assert cost.desired.monthly == Decimal("667.761")
    # max: gpu 2 x 0.5032 x 730 = 734.672, disks 200 GB x 0.0952 = 19.04
    assert cost.maximum.monthly == Decimal("1044.617")
    assert cost.has_estimates  # m7i.large in eu-central-1 is an estimate in the test catalog


def test_spot_without_a_spot_price_is_the_on_demand_upper_bound_and_an_estimate():
    inputs = CostInputs(
        stack="spot", cloud="aws", region="us-east-1", jurisdiction="global", billing_currency="USD",
        node_pools=(NodePoolInputs("gpu", "g5.xlarge", "spot", desired=1, max=1, disk_gb=0),), clusters=0,
    )
    (line,) = compute_stack_cost(inputs, CATALOG, FX).line_items
    assert line.unit_price == Decimal("1.006") and line.estimate
    assert "on-demand price is used as the upper bound" in line.note


def test_alicloud_stack_in_cny_converts_usd_priced_services():
    cost = compute_stack_cost(ali_prod(), CATALOG, FX)
    assert monthly_by_key(cost) == {
        "pool:system:instances": Decimal("1546.432"),  # 2 x 1.0592 x 730
        "pool:system:disks": Decimal("80.00"),  # 2 x 40 GB x 1.00
        "pool:gpu:instances": Decimal("14220.40"),  # 2 x 9.74 x 730
        "pool:gpu:disks": Decimal("200.00"),  # 2 x 100 GB x 1.00
        "cluster": Decimal("467.20"),  # 0.64 x 730
        "nat": Decimal("176.2220"),  # 0.034 USD x 730 = 24.82 USD x 7.10
        "lb": Decimal("103.6600"),  # 0.02 USD x 730 = 14.6 USD x 7.10
        "public_ip": Decimal("29.200"),  # 2 x 0.02 x 730
        "nat_processed": Decimal("24.14000"),  # 100 GB x 0.034 USD = 3.4 USD x 7.10
        "object_storage": Decimal("12.00"),  # 100 GB x 0.12
        "log_ingest": Decimal("10.50"),  # 30 GB x 0.35
        "log_storage": Decimal("124.200"),  # (395 - 30 included) days: 30 x 365 x 24 / 730 = 360 GB x 0.345
    }
    assert cost.desired.monthly == Decimal("16993.954")
    # max: 3 x 1.0592 x 730 = 2319.648; 120 GB disks; 4 x 9.74 x 730 = 28440.8; 400 GB disks;
    # other lines 467.2 + 176.222 + 103.66 + 29.2 + 24.14 + 12 + 10.5 + 124.2 = 947.122
    assert cost.maximum.monthly == Decimal("32227.570")
    # USD = CNY / 7.10: 16993.954 / 7.10 = 2393.5146..., 32227.57 / 7.10 = 4539.0943...
    assert money(cost.desired_usd.monthly) == "2393.51"
    assert money(cost.maximum_usd.monthly) == "4539.09"
    nat = next(i for i in cost.line_items if i.key == "nat")
    assert (nat.unit_price, nat.price_currency) == (Decimal("0.034"), "USD")  # quoted as priced


def test_alicloud_stack_billed_in_usd_converts_cny_prices():
    cost = compute_stack_cost(ali_usd_billed(), CATALOG, FX)
    # (2 x 1.0592 + 35 + 0.64) CNY/h = 37.7584 CNY/h x 730 = 27563.632 CNY / 7.10 = 3882.2016... USD
    assert money(cost.desired.monthly) == "3882.20"
    assert money(cost.desired.hourly, Decimal("0.0001")) == "5.3181"  # 37.7584 / 7.10
    assert cost.desired == cost.desired_usd


def test_stored_log_gb_keeps_only_billable_days():
    assert stored_log_gb(Decimal(30), 365, 0) == Decimal(360)  # 30 x 365 x 24 / 730
    assert stored_log_gb(Decimal(30), 30, 30) == Decimal(0)
    assert stored_log_gb(Decimal(73), 10, 0) == Decimal(24)  # 73 x 10 x 24 / 730


def test_unknown_instance_type_is_an_error_naming_stack_type_and_region():
    inputs = CostInputs(
        stack="prod-us", cloud="aws", region="us-east-1", jurisdiction="global", billing_currency="USD",
        node_pools=(NodePoolInputs("gpu", "g9.xlarge", "on-demand", desired=1, max=1, disk_gb=0),),
    )
    with pytest.raises(PriceNotFoundError) as exc:
        compute_stack_cost(inputs, CATALOG, FX)
    assert str(exc.value) == "stack 'prod-us': no price for instance type g9.xlarge in us-east-1 (aws)"


def test_instance_type_not_offered_in_region_is_an_error_not_a_zero():
    inputs = CostInputs(
        stack="prod-us", cloud="aws", region="us-east-1", jurisdiction="global", billing_currency="USD",
        node_pools=(NodePoolInputs("gpu", "g6e.xlarge", "on-demand", desired=1, max=1, disk_gb=0),),
    )
    with pytest.raises(PriceNotFoundError) as exc:
        compute_stack_cost(inputs, CATALOG, FX)
    assert str(exc.value) == (
        "stack 'prod-us': instance type g6e.xlarge is not offered in us-east-1 (aws; no on-demand price in this region)"
    )


def test_unpriced_region_is_an_error():
    inputs = CostInputs(
        stack="prod-br", cloud="aws", region="sa-east-1", jurisdiction="global", billing_currency="USD", node_pools=(),
    )
    with pytest.raises(PriceNotFoundError) as exc:
        compute_stack_cost(inputs, CATALOG, FX)
    assert str(exc.value) == "stack 'prod-br': no aws prices for region sa-east-1 (priced regions: eu-central-1, us-east-1)"


def test_stack_cost_outputs_shape():
    out = stack_cost_outputs(compute_stack_cost(ali_prod(), CATALOG, FX))
    assert set(out) == {
        "schema", "stack", "cloud", "region", "jurisdiction", "billing_currency", "hours_per_month", "fx",
        "totals", "has_estimates", "line_items",
    }
    assert out["schema"] == "gpufleet.cost/v1"
    assert out["fx"] == {"cny_per_usd": "7.10", "as_of": "2026-11-01", "source": "https://example.test/fx"}
    assert out["totals"] == {
        "CNY": {"desired": {"hourly": "23.2794", "monthly": "16993.95"}, "max": {"hourly": "44.1474", "monthly": "32227.57"}},
        "USD": {"desired": {"hourly": "3.2788", "monthly": "2393.51"}, "max": {"hourly": "6.2179", "monthly": "4539.09"}},
    }
    log = next(i for i in out["line_items"] if i["key"] == "log_storage")
    assert log == {
        "key": "log_storage", "resource": "log storage (395 days retention, first 30 included)", "category": "logging",
        "quantity": "360", "quantity_max": "360", "quantity_unit": "GB", "unit": "GB-month", "unit_price": "0.345",
        "price_currency": "CNY", "hourly": "0.1701", "monthly": "124.20", "hourly_max": "0.1701", "monthly_max": "124.20",
        "estimate": False, "source": "https://example.test/ali/sls", "as_of": "2026-11-22", "note": "",
    }
    import json

    assert json.loads(json.dumps(out)) == out  # plain JSON, nothing Decimal or date left


def test_outputs_round_trip_at_display_precision():
    cost = compute_stack_cost(aws_prod(), CATALOG, FX)
    back = stack_cost_from_outputs(stack_cost_outputs(cost))
    assert back.desired.monthly == Decimal("1859.10") and back.maximum.monthly == Decimal("3437.45")
    assert [i.key for i in back.line_items] == [i.key for i in cost.line_items]
    assert stack_cost_outputs(back) == stack_cost_outputs(cost)
