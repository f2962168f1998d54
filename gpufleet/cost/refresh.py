"""Turn price API responses into catalog entries, and write the catalog back.

The parsing is pure so it is tested on recorded responses; the two `fetch_*`
functions are the only network code and run only from `gpufleet prices refresh`.
AWS: Price List Query API `GetProducts` (boto3). Alibaba Cloud: ECS `DescribePrice`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

from gpufleet.core.cost.model import CostInputError, to_decimal

AWS_SOURCE = "https://api.pricing.us-east-1.amazonaws.com/"  # Price List Query API endpoint
ALICLOUD_SOURCE = "https://ecs.aliyuncs.com/?Action=DescribePrice"
# The price a Linux on-demand node pays: no licence, shared tenancy, no pre-installed software.
AWS_FILTERS = {"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used"}
ALICLOUD_NOT_OFFERED = ("NotSupported", "NotFound", "NoStock", "Unavailable")


class RefreshUnavailable(RuntimeError):
    """Prices cannot be fetched here (no SDK, no credentials, API refused); one line."""


class PriceParseError(ValueError):
    """A price API response without the fields the catalog needs."""


@dataclass(frozen=True)
class FetchedPrice:
    region: str
    instance_type: str
    on_demand: Decimal | None  # None: the API offers no price, i.e. not offered there
    currency: str
    source: str
    as_of: date


def _price(value: Any, what: str) -> Decimal:
    try:
        return to_decimal(value, what).normalize()
    except CostInputError as exc:
        raise PriceParseError(str(exc)) from None


def _date(text: str | None, fallback: date) -> date:
    if not text:
        return fallback
    return datetime.fromisoformat(text.replace("Z", "+00:00")).date()


def parse_aws_price_list(price_list: Iterable[str | Mapping[str, Any]], fetched_on: date) -> list[FetchedPrice]:
    """On-demand Linux hourly prices from `GetProducts` PriceList items (JSON strings or dicts)."""
    found: dict[tuple[str, str], FetchedPrice] = {}
    for raw in price_list:
        item = json.loads(raw) if isinstance(raw, str) else raw
        attrs = item.get("product", {}).get("attributes", {})
        if any(attrs.get(k) != v for k, v in AWS_FILTERS.items()):
            continue
        region, itype = attrs.get("regionCode"), attrs.get("instanceType")
        if not region or not itype:
            raise PriceParseError("AWS price item without regionCode/instanceType")
        for term in item.get("terms", {}).get("OnDemand", {}).values():
            for dim in term.get("priceDimensions", {}).values():
                if dim.get("unit") != "Hrs" or "USD" not in dim.get("pricePerUnit", {}):
                    continue
                as_of = _date(item.get("publicationDate") or term.get("effectiveDate"), fetched_on)
                found[(region, itype)] = FetchedPrice(
                    region, itype, _price(dim["pricePerUnit"]["USD"], f"{itype} {region} price"), "USD", AWS_SOURCE, as_of
                )
    return [found[k] for k in sorted(found)]


def parse_alicloud_describe_price(body: Mapping[str, Any], region: str, instance_type: str, fetched_on: date) -> FetchedPrice:
    """The instance's own list price (disks excluded) from an ECS `DescribePrice` response body."""
    try:
        price = body["PriceInfo"]["Price"]
    except (KeyError, TypeError):
        raise PriceParseError(f"DescribePrice response for {instance_type} in {region} has no PriceInfo.Price") from None
    currency = price.get("Currency")
    if currency not in ("CNY", "USD"):
        raise PriceParseError(f"DescribePrice response for {instance_type} in {region}: unexpected currency {currency!r}")
    details = (price.get("DetailInfos") or {}).get("DetailInfo") or []
    amount = next((d.get("OriginalPrice") for d in details if d.get("Resource") == "instanceType"), None)
    if amount is None:
        amount = price.get("OriginalPrice")
    if amount is None:
        raise PriceParseError(f"DescribePrice response for {instance_type} in {region} has no OriginalPrice")
    return FetchedPrice(region, instance_type, _price(str(amount), f"{instance_type} {region} price"), currency,
                        ALICLOUD_SOURCE, fetched_on)


def alicloud_error_means_not_offered(code: str) -> bool:
    """DescribePrice answers with an error code when a type cannot be bought in a region."""
    return any(part in code for part in ALICLOUD_NOT_OFFERED)


def merge_instance_prices(doc: Mapping[str, Any], prices: Sequence[FetchedPrice]) -> dict[str, Any]:
    """A copy of a catalog document with fetched instance prices replacing the old entries.

    A fetched price clears `estimate`/`derivation`; a type the API does not offer
    becomes `available: false`. Entries not fetched are kept unchanged.
    """
    out = json.loads(json.dumps(doc, default=str))
    regions = out.get("regions", {})
    for p in prices:
        if p.region not in regions:
            raise PriceParseError(f"fetched a price for region {p.region}, which the catalog does not list")
        instances = regions[p.region]["instances"]
        if p.on_demand is None:
            instances[p.instance_type] = {
                "available": False, "source": p.source, "as_of": p.as_of.isoformat(),
                "note": f"the price API returned no on-demand price for {p.region}",
            }
        else:
            instances[p.instance_type] = {
                "on_demand": format(p.on_demand, "f"), "currency": p.currency, "source": p.source, "as_of": p.as_of.isoformat(),
            }
    return out


def _flow(entry: Mapping[str, Any]) -> str:
    parts = []
    for key, value in entry.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int):
            text = str(value)
        else:
            text = json.dumps(str(value), ensure_ascii=False)
        parts.append(f"{key}: {text}")
    return "{" + ", ".join(parts) + "}"


def dump_cloud_prices(doc: Mapping[str, Any], header: str = "") -> str:
    """The catalog's own layout: one flow mapping per price, so diffs stay one line per price."""
    lines = [line for line in header.splitlines() if line.strip()]
    lines += [f"cloud: {doc['cloud']}", "regions:"]
    for region, rp in doc["regions"].items():
        lines += [f"  {region}:", "    instances:"]
        lines += [f"      {name}: {_flow(e)}" for name, e in rp["instances"].items()]
        lines.append("    services:")
        lines += [f"      {name}: {_flow(e)}" for name, e in rp["services"].items()]
    return "\n".join(lines) + "\n"


def leading_comments(text: str) -> str:
    """The comment block at the top of a price file, kept across a refresh."""
    out = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        out.append(line)
    return "\n".join(out)


# ---------------------------------------------------------------- network (refresh only)


def fetch_aws(regions: Sequence[str], instance_types: Sequence[str], today: date) -> list[FetchedPrice]:
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        raise RefreshUnavailable("boto3 is not installed (pip install 'boto3>=1.34,<2')") from None
    session = boto3.Session()
    if session.get_credentials() is None:
        raise RefreshUnavailable("no AWS credentials (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
    client = session.client("pricing", region_name="us-east-1")
    items: list[str] = []
    try:
        for region in regions:
            for itype in instance_types:
                filters = [{"Type": "TERM_MATCH", "Field": k, "Value": v}
                           for k, v in {**AWS_FILTERS, "regionCode": region, "instanceType": itype}.items()]
                for page in client.get_paginator("get_products").paginate(ServiceCode="AmazonEC2", Filters=filters):
                    items.extend(page.get("PriceList", []))
    except (BotoCoreError, ClientError) as exc:
        raise RefreshUnavailable(f"AWS Price List API call failed: {str(exc).splitlines()[0]}") from None
    prices = parse_aws_price_list(items, today)
    have = {(p.region, p.instance_type) for p in prices}
    missing = [FetchedPrice(r, t, None, "USD", AWS_SOURCE, today)
               for r in regions for t in instance_types if (r, t) not in have]
    return prices + missing


def alicloud_credentials(env: Mapping[str, str]) -> tuple[str, str]:
    key, secret = env.get("ALIBABA_CLOUD_ACCESS_KEY_ID"), env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    if not key or not secret:
        raise RefreshUnavailable("no Alibaba Cloud credentials (set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET)")
    return key, secret


def fetch_alicloud(regions: Sequence[str], instance_types: Sequence[str], today: date) -> list[FetchedPrice]:
    try:
        from alibabacloud_ecs20140526 import models as ecs_models
        from alibabacloud_ecs20140526.client import Client
        from alibabacloud_tea_openapi import models as api_models
    except ImportError:
        raise RefreshUnavailable("the Alibaba Cloud ECS SDK is not installed (pip install 'alibabacloud-ecs20140526>=7,<8')") from None
    key, secret = alicloud_credentials(os.environ)
    prices = []
    for region in regions:
        client = Client(api_models.Config(access_key_id=key, access_key_secret=secret, region_id=region,
                                          endpoint=f"ecs.{region}.aliyuncs.com"))
        for itype in instance_types:
            request = ecs_models.DescribePriceRequest(region_id=region, resource_type="instance", instance_type=itype,
                                                      price_unit="Hour", period=1)
            try:
                body = client.describe_price(request).body.to_map()
            except Exception as exc:  # the Tea SDK raises one exception type with a .code
                code = str(getattr(exc, "code", "") or "")
                if alicloud_error_means_not_offered(code):
                    prices.append(FetchedPrice(region, itype, None, "CNY", ALICLOUD_SOURCE, today))
                    continue
                raise RefreshUnavailable(f"ECS DescribePrice failed for {itype} in {region}: {code or exc.__class__.__name__}") from None
            prices.append(parse_alicloud_describe_price(body, region, itype, today))
    return prices
