"""The monitoring footprint in the stack's cost: Prometheus volumes, and managed ingestion when enabled."""

from __future__ import annotations

from decimal import Decimal

from conftest import edited_stack
from gpufleet.core.config import load_stack
from gpufleet.core.cost import compute_stack_cost, default_price_catalog
from gpufleet.core.cost_inputs import cost_inputs_for, fx_for
from gpufleet.core.observability_sizing import footprint

WS = "ws-0123abcd-4567-89ef-0123-456789abcdef"


def lines(cfg):
    cost = compute_stack_cost(cost_inputs_for(cfg), default_price_catalog(), fx_for(cfg))
    return {item.key: item for item in cost.line_items}


def test_prometheus_volumes_are_a_line_and_no_ingestion_without_remote_write():
    cfg = load_stack("prod-us-east-1")  # defaults: 2 replicas x 100 GiB
    items = lines(cfg)
    storage = items["monitoring_storage"]
    assert (storage.quantity, storage.quantity_max, storage.category) == (Decimal(200), Decimal(200), "monitoring")
    assert storage.monthly == Decimal(200) * storage.unit_price  # USD, GB-month
    assert "managed_metrics" not in items


def test_remote_write_adds_managed_ingestion_at_desired_and_max_size():
    cfg = load_stack("prod-us-east-1", text=edited_stack("prod-us-east-1", {"gpufleet:observability": {
        "remoteWrite": {"provider": "amp", "workspaceId": WS}, "storageGib": 50, "prometheusReplicas": 1}}))
    items = lines(cfg)
    f = footprint(cfg)
    ingest = items["managed_metrics"]
    assert ingest.quantity == Decimal(f.samples_per_month()) / 1_000_000
    assert ingest.quantity_max == Decimal(f.samples_per_month(maximum=True)) / 1_000_000
    assert ingest.unit == "million-samples" and ingest.monthly == ingest.quantity * ingest.unit_price
    assert ingest.monthly_max > ingest.monthly
    assert items["monitoring_storage"].quantity == Decimal(50)


def test_china_ingestion_is_priced_from_the_arms_entry_and_billed_in_cny():
    arms = "https://cn-beijing.arms.aliyuncs.com/prometheus/1/2/cn-beijing/api/v3/write"
    cfg = load_stack("prod-cn-beijing", text=edited_stack("prod-cn-beijing", {"gpufleet:observability": {
        "remoteWrite": {"provider": "arms", "url": arms}}}))
    ingest = lines(cfg)["managed_metrics"]
    assert ingest.price_currency == "USD" and "arms" in ingest.source
    assert ingest.monthly == ingest.quantity * ingest.unit_price * cfg.cny_per_usd  # billed in CNY
