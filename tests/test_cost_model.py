"""CostInputs validation and the dated CNY/USD conversion."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from gpufleet.core.cost import CostInputError, CostInputs, FxRate, NodePoolInputs

FX = FxRate(Decimal("7.10"), date(2026, 11, 1), "https://example.test/fx")


def test_cny_to_usd_divides_by_the_configured_rate():
    assert FX.convert(Decimal("71"), "CNY", "USD") == Decimal("10")
    assert FX.convert(Decimal("16993.954"), "CNY", "USD").quantize(Decimal("0.0001")) == Decimal("2393.5146")


def test_usd_to_cny_multiplies_and_same_currency_is_identity():
    assert FX.convert(Decimal("1"), "USD", "CNY") == Decimal("7.10")
    assert FX.convert(Decimal("24.82"), "USD", "CNY") == Decimal("176.2220")  # 0.034 x 730 NAT hours
    assert FX.convert(Decimal("3.5"), "USD", "USD") == Decimal("3.5")


def test_fx_keeps_its_date_and_rejects_a_bad_rate():
    assert (FX.as_of, FX.source) == (date(2026, 11, 1), "https://example.test/fx")
    with pytest.raises(CostInputError) as exc:
        FxRate(Decimal(0), date(2026, 11, 1), "https://example.test/fx")
    assert str(exc.value) == "cny_per_usd must be > 0; got 0"
    with pytest.raises(CostInputError) as exc:
        FX.convert(Decimal(1), "EUR", "USD")
    assert str(exc.value) == "currency must be one of USD, CNY; got 'EUR'"


def pool(**kw) -> NodePoolInputs:
    args = {"name": "gpu", "instance_type": "g5.xlarge", "capacity": "on-demand", "desired": 1, "max": 2, "disk_gb": 100}
    return NodePoolInputs(**{**args, **kw})


def test_pool_desired_cannot_exceed_max():
    with pytest.raises(CostInputError) as exc:
        pool(desired=3, max=2)
    assert str(exc.value) == "node pool 'gpu': desired (3) must not exceed max (2)"


def test_pool_capacity_and_counts_are_checked():
    with pytest.raises(CostInputError) as exc:
        pool(capacity="reserved")
    assert str(exc.value) == "node pool 'gpu': capacity must be one of on-demand, spot; got 'reserved'"
    with pytest.raises(CostInputError) as exc:
        pool(disk_gb=-1)
    assert str(exc.value) == "node pool 'gpu': disk_gb must be a whole number >= 0; got -1"


def inputs(**kw) -> CostInputs:
    args = {"stack": "s", "cloud": "aws", "region": "us-east-1", "jurisdiction": "global",
            "billing_currency": "USD", "node_pools": [pool()]}
    return CostInputs(**{**args, **kw})


def test_inputs_are_frozen_and_numbers_become_decimals():
    made = inputs(object_storage_gb=12, log_ingest_gb_month="2.5", nat_processed_gb_month=0.1)
    assert made.node_pools == (pool(),)  # a list becomes a tuple, so the dataclass stays hashable
    assert (made.object_storage_gb, made.log_ingest_gb_month, made.nat_processed_gb_month) == (
        Decimal(12), Decimal("2.5"), Decimal("0.1"),  # 0.1 via str(), not the binary float
    )
    with pytest.raises(AttributeError):
        made.clusters = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"cloud": "gcp"}, "stack 's': cloud must be one of aws, alicloud; got 'gcp'"),
        ({"billing_currency": "EUR"}, "stack 's': billing_currency must be one of USD, CNY; got 'EUR'"),
        ({"nat_gateways": -1}, "stack 's': nat_gateways must be a whole number >= 0; got -1"),
        ({"object_storage_gb": "-5"}, "stack 's': object_storage_gb must be >= 0; got -5"),
        ({"log_ingest_gb_month": "lots"}, "stack 's': log_ingest_gb_month must be a number; got 'lots'"),
        ({"node_pools": [pool(), pool()]}, "stack 's': node pool names must be unique; got gpu, gpu"),
    ],
)
def test_bad_inputs_say_what_is_wrong(kw, message):
    with pytest.raises(CostInputError) as exc:
        inputs(**kw)
    assert str(exc.value) == message
