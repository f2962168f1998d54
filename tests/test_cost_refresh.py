"""`gpufleet prices`: price API responses parsed offline from recorded fixtures; no network."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from gpufleet.commands import prices as prices_cmd
from gpufleet.core.cost.catalog import load_price_catalog, parse_cloud_prices
from gpufleet.cost.refresh import (
    ALICLOUD_SOURCE,
    AWS_SOURCE,
    FetchedPrice,
    PriceParseError,
    RefreshUnavailable,
    alicloud_credentials,
    alicloud_error_means_not_offered,
    dump_cloud_prices,
    fetch_alicloud,
    fetch_aws,
    leading_comments,
    merge_instance_prices,
    parse_alicloud_describe_price,
    parse_aws_price_list,
)

FIXTURES = Path(__file__).parent / "fixtures" / "prices"
TODAY = date(2026, 11, 22)


def test_aws_get_products_keeps_only_linux_shared_on_demand():
    page = json.loads((FIXTURES / "aws_get_products_page.json").read_text())
    prices = parse_aws_price_list(page["PriceList"], TODAY)
    # Windows, Dedicated, capacity-reservation and SQL Web items are skipped; reserved terms ignored
    assert prices == [
        FetchedPrice("eu-central-1", "g6e.xlarge", Decimal("2.327"), "USD", AWS_SOURCE, date(2026, 8, 15)),
        FetchedPrice("us-east-1", "g5.xlarge", Decimal("1.006"), "USD", AWS_SOURCE, date(2026, 8, 15)),
    ]


def test_alicloud_describe_price_takes_the_instance_line_not_the_disk():
    body = json.loads((FIXTURES / "alicloud_describe_price_gn7i.json").read_text())
    got = parse_alicloud_describe_price(body, "cn-hangzhou", "ecs.gn7i-c8g1.2xlarge", TODAY)
    # total 9.893 = instanceType 9.74 + systemDisk 0.153; the catalog prices disks separately
    assert got == FetchedPrice("cn-hangzhou", "ecs.gn7i-c8g1.2xlarge", Decimal("9.74"), "CNY", ALICLOUD_SOURCE, TODAY)


def test_alicloud_describe_price_without_details_uses_the_total():
    body = json.loads((FIXTURES / "alicloud_describe_price_no_detail.json").read_text())
    assert parse_alicloud_describe_price(body, "cn-beijing", "ecs.g7.xlarge", TODAY).on_demand == Decimal("1.0592")


def test_alicloud_bad_response_is_one_line():
    with pytest.raises(PriceParseError) as exc:
        parse_alicloud_describe_price({"RequestId": "x"}, "cn-beijing", "ecs.g7.xlarge", TODAY)
    assert str(exc.value) == "DescribePrice response for ecs.g7.xlarge in cn-beijing has no PriceInfo.Price"
    assert alicloud_error_means_not_offered("InvalidInstanceType.ValueNotSupported")
    assert not alicloud_error_means_not_offered("Forbidden.RAM")


def catalog_text() -> str:
    return (FIXTURES / "catalog" / "aws.yaml").read_text()


def test_merge_replaces_estimates_and_marks_not_offered_then_round_trips():
    doc = yaml.safe_load(catalog_text())
    merged = merge_instance_prices(doc, [
        FetchedPrice("eu-central-1", "m7i.large", Decimal("0.121"), "USD", AWS_SOURCE, TODAY),
        FetchedPrice("eu-central-1", "g6e.xlarge", None, "USD", AWS_SOURCE, TODAY),
    ])
    m7i = merged["regions"]["eu-central-1"]["instances"]["m7i.large"]
    assert m7i == {"on_demand": "0.121", "currency": "USD", "source": AWS_SOURCE, "as_of": "2026-11-22"}
    assert merged["regions"]["eu-central-1"]["instances"]["g6e.xlarge"] == {
        "available": False, "source": AWS_SOURCE, "as_of": "2026-11-22",
        "note": "the price API returned no on-demand price for eu-central-1",
    }
    assert doc["regions"]["eu-central-1"]["instances"]["m7i.large"]["estimate"] is True  # input untouched
    text = dump_cloud_prices(merged, leading_comments(catalog_text()))
    assert text.startswith("# Test catalog: a few real-looking prices")
    assert '      m7i.large: {on_demand: "0.121", currency: "USD", source: "https://api.pricing.us-east-1.amazonaws.com/", as_of: "2026-11-22"}' in text
    assert parse_cloud_prices(yaml.safe_load(text), Path("aws.yaml")) == parse_cloud_prices(merged, Path("aws.yaml"))


def test_merge_rejects_an_unknown_region():
    with pytest.raises(PriceParseError) as exc:
        merge_instance_prices(yaml.safe_load(catalog_text()), [FetchedPrice("sa-east-1", "g5.xlarge", Decimal(1), "USD", AWS_SOURCE, TODAY)])
    assert str(exc.value) == "fetched a price for region sa-east-1, which the catalog does not list"


def test_live_catalog_survives_dump_unchanged():
    from gpufleet.core.cost.catalog import PRICES_DIR

    for name in ("aws.yaml", "alicloud.yaml"):
        text = (PRICES_DIR / name).read_text()
        assert dump_cloud_prices(yaml.safe_load(text), leading_comments(text)) == text


def test_missing_sdks_and_credentials_are_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 -> ImportError
    with pytest.raises(RefreshUnavailable) as exc:
        fetch_aws(["us-east-1"], ["g5.xlarge"], TODAY)
    assert str(exc.value) == "boto3 is not installed (pip install 'boto3>=1.34,<2')"
    monkeypatch.setitem(sys.modules, "alibabacloud_ecs20140526", None)
    with pytest.raises(RefreshUnavailable) as exc:
        fetch_alicloud(["cn-hangzhou"], ["ecs.g7.xlarge"], TODAY)
    assert str(exc.value) == "the Alibaba Cloud ECS SDK is not installed (pip install 'alibabacloud-ecs20140526>=7,<8')"
    with pytest.raises(RefreshUnavailable) as exc:
        alicloud_credentials({"ALIBABA_CLOUD_ACCESS_KEY_ID": "id"})
    assert str(exc.value) == (
        "no Alibaba Cloud credentials (set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET)"
    )


def refresh_args(tmp_path: Path, **kw) -> argparse.Namespace:
    prices = tmp_path / "prices"
    prices.mkdir(exist_ok=True)
    (prices / "aws.yaml").write_text(catalog_text())
    return argparse.Namespace(cloud="aws", regions=kw.get("regions"), prices=prices, output=kw.get("output"))


def test_refresh_without_credentials_exits_2_with_one_line(tmp_path, capsys):
    def no_credentials(regions, types, today):
        raise RefreshUnavailable("no AWS credentials (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")

    args = refresh_args(tmp_path)
    assert prices_cmd.run_refresh(args, {"aws": no_credentials}) == 2
    assert capsys.readouterr().err == (
        "gpufleet prices: no AWS credentials (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)\n"
    )
    assert (args.prices / "aws.yaml").read_text() == catalog_text()  # nothing written


def test_refresh_writes_fetched_prices(tmp_path, capsys):
    page = json.loads((FIXTURES / "aws_get_products_page.json").read_text())
    seen = {}

    def recorded(regions, types, today):
        seen.update(regions=list(regions), types=list(types))
        return [p for p in parse_aws_price_list(page["PriceList"], today) if p.region in regions] + [
            FetchedPrice("us-east-1", "m7i.large", None, "USD", AWS_SOURCE, today)
        ]

    out = tmp_path / "new.yaml"
    args = refresh_args(tmp_path, regions=["us-east-1"], output=out)
    assert prices_cmd.run_refresh(args, {"aws": recorded}) == 0
    assert seen == {"regions": ["us-east-1"], "types": ["g5.xlarge", "m7i.large", "g6e.xlarge"]}
    assert capsys.readouterr().out == f"gpufleet prices: 1 prices updated, 1 not offered; wrote {out}\n"
    (tmp_path / "prices" / "aws.yaml").write_text(out.read_text())
    (tmp_path / "prices" / "alicloud.yaml").write_text((FIXTURES / "catalog" / "alicloud.yaml").read_text())
    refreshed = load_price_catalog(tmp_path / "prices").clouds["aws"].regions["us-east-1"].instances
    assert not refreshed["m7i.large"].available and refreshed["g5.xlarge"].on_demand == Decimal("1.006")


def test_refresh_rejects_a_region_not_in_the_catalog(tmp_path, capsys):
    args = refresh_args(tmp_path, regions=["sa-east-1"])
    assert prices_cmd.run_refresh(args, {"aws": lambda *a: []}) == 2
    assert capsys.readouterr().err == (
        "gpufleet prices: region sa-east-1 is not in the aws catalog (regions: us-east-1, eu-central-1)\n"
    )


def test_estimates_lists_each_estimate_with_its_derivation(tmp_path):
    (tmp_path / "aws.yaml").write_text(catalog_text())
    (tmp_path / "alicloud.yaml").write_text((FIXTURES / "catalog" / "alicloud.yaml").read_text())
    assert prices_cmd.estimate_lines(tmp_path) == [
        "alicloud cn-hangzhou ecs.gn7i-c8g1.2xlarge: 9.74 CNY - DescribePrice quote",
        "aws eu-central-1 m7i.large: 0.12075 USD - m6i.large x 1.05",
    ]
