"""The price catalog: its shape is enforced, and the live catalog covers every type and region."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gpufleet.core.cost.catalog import (
    PRICES_DIR,
    SERVICE_UNITS,
    InstanceEntry,
    PriceCatalogError,
    load_fx,
    load_price_catalog,
    parse_cloud_prices,
)

AWS_REGIONS = ["us-east-1", "eu-central-1", "ap-southeast-1", "ap-northeast-1", "us-west-2", "eu-west-1"]
AWS_TYPES = [
    "g5.xlarge", "g5.2xlarge", "g5.12xlarge", "g5.48xlarge", "g6.xlarge", "g6.2xlarge", "g6.12xlarge",
    "g6e.xlarge", "g6e.2xlarge", "g6e.12xlarge", "g6e.48xlarge", "p4d.24xlarge", "p5.48xlarge",
    "m7i.large", "m7i.xlarge", "m7i.2xlarge", "m6i.xlarge",
]
ALI_REGIONS = ["cn-hangzhou", "cn-beijing", "cn-shanghai", "cn-shenzhen", "cn-zhangjiakou", "cn-wulanchabu"]
ALI_TYPES = [
    "ecs.gn6i-c4g1.xlarge", "ecs.gn7i-c8g1.2xlarge", "ecs.gn7i-c16g1.4xlarge", "ecs.gn7i-c32g1.8xlarge",
    "ecs.gn7i-c32g1.16xlarge", "ecs.gn7i-c32g1.32xlarge", "ecs.gn7e-c16g1.4xlarge", "ecs.gn7e-c16g1.8xlarge",
    "ecs.gn7e-c16g1.16xlarge", "ecs.gn7e-c16g1.32xlarge", "ecs.g7.xlarge", "ecs.g7.2xlarge", "ecs.g8i.xlarge",
    "ecs.g8i.2xlarge",
]
LIVE = load_price_catalog()


@pytest.mark.parametrize(("cloud", "regions", "types", "currency"), [
    ("aws", AWS_REGIONS, AWS_TYPES, "USD"),
    ("alicloud", ALI_REGIONS, ALI_TYPES, "CNY"),
])
def test_live_catalog_prices_every_type_in_every_region(cloud, regions, types, currency):
    prices = LIVE.clouds[cloud]
    assert sorted(prices.regions) == sorted(regions)
    for region in regions:
        rp = prices.regions[region]
        assert sorted(rp.instances) == sorted(types), region
        assert sorted(rp.services) == sorted(SERVICE_UNITS), region
        for name, entry in rp.instances.items():
            if entry.available:  # priced in the cloud's own currency, or explicitly not offered
                assert entry.currency == currency and entry.on_demand is not None, (region, name)


def test_every_live_price_has_a_source_a_date_and_a_derivation_when_estimated():
    for cloud, region, name, entry in LIVE.all_prices():
        assert entry.source.startswith("https://"), (cloud, region, name)
        assert entry.as_of.year >= 2021, (cloud, region, name)
        if entry.estimate:
            assert entry.derivation, (cloud, region, name)
        if isinstance(entry, InstanceEntry) and not entry.available:
            assert entry.note, (cloud, region, name)


def test_project_fx_rate_comes_from_pulumi_yaml_with_its_date():
    from gpufleet.core.cost_inputs import project_fx
    fx = project_fx()
    assert str(fx.cny_per_usd) == "7.10" and fx.as_of.isoformat() == "2026-11-22"
    assert fx.source == "Pulumi.yaml gpufleet:cnyPerUsd"


def test_live_catalog_has_the_documented_not_offered_facts():
    aws = LIVE.clouds["aws"].regions
    assert not aws["eu-west-1"].instances["p5.48xlarge"].available
    assert not aws["ap-southeast-1"].instances["g5.xlarge"].available
    assert aws["ap-southeast-1"].instances["p4d.24xlarge"].available


def _doc() -> dict:
    text = (Path(__file__).parent / "fixtures" / "prices" / "catalog" / "aws.yaml").read_text()
    return yaml.safe_load(text)


def _error(doc: dict) -> str:
    with pytest.raises(PriceCatalogError) as exc:
        parse_cloud_prices(doc, Path("aws.yaml"))
    return str(exc.value)


def test_float_prices_are_rejected_to_keep_money_exact():
    doc = _doc()
    doc["regions"]["us-east-1"]["instances"]["g5.xlarge"]["on_demand"] = 1.006
    assert _error(doc) == (
        "aws.yaml: regions.us-east-1.instances.g5.xlarge.on_demand: "
        "write prices as quoted strings to keep them exact; got 1.006"
    )


def test_an_estimate_must_say_how_it_was_derived():
    doc = _doc()
    doc["regions"]["us-east-1"]["services"]["nat_gateway"]["estimate"] = True
    assert _error(doc) == (
        "aws.yaml: regions.us-east-1.services.nat_gateway: "
        "an estimate must say how it was derived (derivation)"
    )


def test_a_service_must_be_priced_in_its_unit():
    doc = _doc()
    doc["regions"]["us-east-1"]["services"]["object_storage"]["unit"] = "GB"
    assert _error(doc) == (
        "aws.yaml: regions.us-east-1.services: object_storage must be priced per GB-month; got 'GB'"
    )


def test_not_offered_needs_a_reason_and_no_price():
    doc = _doc()
    del doc["regions"]["us-east-1"]["instances"]["g6e.xlarge"]["note"]
    assert _error(doc) == (
        "aws.yaml: regions.us-east-1.instances.g6e.xlarge: available: false needs a note saying why"
    )


def test_every_region_lists_every_type():
    doc = _doc()
    del doc["regions"]["eu-central-1"]["instances"]["g6e.xlarge"]
    assert _error(doc) == (
        "aws.yaml: every region must list every instance type (use available: false); "
        "missing: {'eu-central-1': ['g6e.xlarge']}"
    )


def test_missing_price_file_is_one_line(tmp_path):
    with pytest.raises(PriceCatalogError) as exc:
        load_price_catalog(tmp_path)
    assert str(exc.value) == f"{tmp_path / 'aws.yaml'}: price file not found"


def test_prices_dir_is_the_repo_catalog():
    assert PRICES_DIR == Path(__file__).resolve().parents[1] / "gpufleet" / "core" / "catalog" / "prices"
