"""`gpufleet prices`: refresh the price catalog from the clouds' price APIs, list estimates.

`refresh` needs an SDK and credentials (boto3 for AWS's Price List API, the ECS
SDK for Alibaba's DescribePrice); without them it says so in one line and exits 2.
It rewrites only instance prices; service prices stay as sourced in the file.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Callable, Sequence

import yaml

from gpufleet.core.cost.catalog import CLOUD_FILES, PRICES_DIR, InstanceEntry, PriceCatalogError, load_price_catalog, parse_cloud_prices
from gpufleet.cost.refresh import (
    FetchedPrice,
    PriceParseError,
    RefreshUnavailable,
    dump_cloud_prices,
    fetch_alicloud,
    fetch_aws,
    leading_comments,
    merge_instance_prices,
)

Fetcher = Callable[[Sequence[str], Sequence[str], date], list[FetchedPrice]]
FETCHERS: dict[str, Fetcher] = {"aws": fetch_aws, "alicloud": fetch_alicloud}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("prices", help="refresh the price catalog from the cloud price APIs; list estimates")
    sub = p.add_subparsers(dest="prices_command", metavar="ACTION")
    sub.required = True
    refresh = sub.add_parser("refresh", help="fetch current on-demand instance prices (needs credentials)")
    refresh.add_argument("--cloud", choices=sorted(CLOUD_FILES), required=True)
    refresh.add_argument("--region", action="append", dest="regions", metavar="REGION", help="only this region (repeatable)")
    refresh.add_argument("--prices", type=Path, default=PRICES_DIR, metavar="DIR", help="price catalog directory")
    refresh.add_argument("--output", type=Path, metavar="PATH", help="write here instead of overwriting the catalog file")
    refresh.set_defaults(func=run_refresh)
    estimates = sub.add_parser("estimates", help="list every price marked estimate: true, with its derivation")
    estimates.add_argument("--prices", type=Path, default=PRICES_DIR, metavar="DIR", help="price catalog directory")
    estimates.set_defaults(func=run_estimates)


def refreshed_text(current: str, cloud: str, regions: Sequence[str] | None, fetch: Fetcher, today: date) -> tuple[str, int, int]:
    """New file text, number of prices updated and of types found not offered."""
    path = Path(CLOUD_FILES[cloud])
    doc = yaml.safe_load(current)
    known = list(doc["regions"])
    unknown = [r for r in regions or () if r not in known]
    if unknown:
        raise RefreshUnavailable(f"region {unknown[0]} is not in the {cloud} catalog (regions: {', '.join(known)})")
    wanted = list(regions) if regions else known
    types = list(doc["regions"][known[0]]["instances"])
    fetched = fetch(wanted, types, today)
    merged = merge_instance_prices(doc, fetched)
    parse_cloud_prices(merged, path)  # the result must still be a valid catalog
    text = dump_cloud_prices(merged, leading_comments(current))
    not_offered = sum(1 for p in fetched if p.on_demand is None)
    return text, len(fetched) - not_offered, not_offered


def run_refresh(args: argparse.Namespace, fetchers: dict[str, Fetcher] = FETCHERS) -> int:
    path = args.prices / CLOUD_FILES[args.cloud]
    try:
        text, updated, not_offered = refreshed_text(
            path.read_text(encoding="utf-8"), args.cloud, args.regions, fetchers[args.cloud], date.today()
        )
    except RefreshUnavailable as exc:
        print(f"gpufleet prices: {exc}", file=sys.stderr)
        return 2
    except (PriceParseError, PriceCatalogError, OSError) as exc:
        print(f"gpufleet prices: {exc}", file=sys.stderr)
        return 1
    target = args.output or path
    target.write_text(text, encoding="utf-8")
    print(f"gpufleet prices: {updated} prices updated, {not_offered} not offered; wrote {target}")
    return 0


def estimate_lines(directory: Path) -> list[str]:
    lines = []
    for cloud, region, name, entry in load_price_catalog(directory).all_prices():
        if entry.estimate:
            price = entry.on_demand if isinstance(entry, InstanceEntry) else entry.amount
            currency = entry.currency
            lines.append(f"{cloud} {region} {name}: {price} {currency} - {entry.derivation}")
    return lines


def run_estimates(args: argparse.Namespace) -> int:
    try:
        lines = estimate_lines(args.prices)
    except PriceCatalogError as exc:
        print(f"gpufleet prices: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    print(f"{len(lines)} estimated prices", file=sys.stderr)
    return 0
