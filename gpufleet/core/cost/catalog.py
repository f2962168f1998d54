"""Load and validate the price catalog (`gpufleet/core/catalog/prices/*.yaml`) and the FX rate.

Prices are data with a currency, a source URL and an as-of date each; this module
only checks their shape and answers lookups, so a typo in the data fails loudly
and a missing price is an error naming stack, instance type and region, never a zero.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gpufleet.core.cost.model import Capacity, Cloud, Currency, FxRate

PRICES_DIR = Path(__file__).resolve().parents[1] / "catalog" / "prices"
CLOUD_FILES: dict[str, str] = {"aws": "aws.yaml", "alicloud": "alicloud.yaml"}

ServiceKey = Literal[
    "cluster_fee", "nat_gateway", "nat_processed", "load_balancer", "public_ip",
    "object_storage", "log_ingest", "log_storage", "block_storage", "managed_metrics_samples",
]
# The unit each service must be priced in; compute.py relies on these.
SERVICE_UNITS: dict[str, str] = {
    "cluster_fee": "cluster-hour",
    "nat_gateway": "gateway-hour",
    "nat_processed": "GB",
    "load_balancer": "lb-hour",
    "public_ip": "ip-hour",
    "object_storage": "GB-month",
    "log_ingest": "GB",
    "log_storage": "GB-month",
    "block_storage": "GB-month",
    "managed_metrics_samples": "million-samples",  # managed Prometheus ingestion (AMP / ARMS)
}
SPOT_UPPER_BOUND = (
    "no spot price in the catalog; the on-demand price is used as the upper bound "
    "(AWS's default spot maximum and Alibaba's SpotAsPriceGo cap are the on-demand price)"
)


class PriceCatalogError(ValueError):
    """A price file that does not have the documented shape."""


class PriceNotFoundError(LookupError):
    """A stack needs a price the catalog does not have; str() is one line for the CLI."""


def _no_float(value: Any) -> Any:
    # YAML floats (0.1) are binary approximations; prices are written as strings.
    if isinstance(value, float):
        raise ValueError(f"write prices as quoted strings to keep them exact; got {value!r}")
    return value


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Price(_Frozen):
    """One unit price with everything needed to audit it."""

    amount: Decimal = Field(ge=0)
    currency: Currency
    unit: str
    source: str = Field(pattern=r"^https?://")
    as_of: date
    estimate: bool = False
    derivation: str | None = None
    note: str | None = None
    included_days: int = Field(default=0, ge=0)

    _amount_exact = field_validator("amount", mode="before")(_no_float)

    @model_validator(mode="after")
    def _estimate_says_how(self) -> "Price":
        if self.estimate and not self.derivation:
            raise ValueError("an estimate must say how it was derived (derivation)")
        if not self.estimate and self.derivation:
            raise ValueError("derivation is only for estimates (set estimate: true)")
        return self


class InstanceEntry(_Frozen):
    """An instance type in one region: its prices, or `available: false` with why."""

    available: bool = True
    on_demand: Decimal | None = Field(default=None, ge=0)
    spot: Decimal | None = Field(default=None, ge=0)
    currency: Currency | None = None
    source: str = Field(pattern=r"^https?://")
    as_of: date
    estimate: bool = False
    derivation: str | None = None
    note: str | None = None

    _prices_exact = field_validator("on_demand", "spot", mode="before")(_no_float)

    @model_validator(mode="after")
    def _consistent(self) -> "InstanceEntry":
        if self.available:
            if self.on_demand is None or self.currency is None:
                raise ValueError("an available instance type needs on_demand and currency")
        elif self.on_demand is not None or self.spot is not None:
            raise ValueError("available: false must not carry a price")
        elif not self.note:
            raise ValueError("available: false needs a note saying why")
        if self.estimate and not self.derivation:
            raise ValueError("an estimate must say how it was derived (derivation)")
        return self

    def price(self, capacity: Capacity) -> Price:
        assert self.on_demand is not None and self.currency is not None
        common = {"currency": self.currency, "unit": "instance-hour", "source": self.source, "as_of": self.as_of}
        if capacity == "spot" and self.spot is not None:
            return Price(amount=self.spot, estimate=self.estimate, derivation=self.derivation, note=self.note, **common)
        if capacity == "spot":
            why = SPOT_UPPER_BOUND + (f"; on-demand price: {self.derivation}" if self.derivation else "")
            return Price(amount=self.on_demand, estimate=True, derivation=why, note=self.note, **common)
        return Price(amount=self.on_demand, estimate=self.estimate, derivation=self.derivation, note=self.note, **common)


class RegionPrices(_Frozen):
    instances: dict[str, InstanceEntry]
    services: dict[ServiceKey, Price]

    @field_validator("services", mode="before")
    @classmethod
    def _service_shape(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        missing = sorted(set(SERVICE_UNITS) - set(raw))
        if missing:
            raise ValueError(f"missing service prices: {', '.join(missing)}")
        out = {}
        for key, entry in raw.items():
            if isinstance(entry, dict):
                entry = dict(entry)
                if "price" in entry:
                    entry["amount"] = entry.pop("price")
                expected = SERVICE_UNITS.get(key)
                if expected and entry.get("unit") != expected:
                    raise ValueError(f"{key} must be priced per {expected}; got {entry.get('unit')!r}")
            out[key] = entry
        return out


class CloudPrices(_Frozen):
    cloud: Cloud
    regions: dict[str, RegionPrices]

    @model_validator(mode="after")
    def _same_types_everywhere(self) -> "CloudPrices":
        names = [set(r.instances) for r in self.regions.values()]
        if names and any(n != names[0] for n in names):
            union = set().union(*names)
            gaps = {region: sorted(union - set(r.instances)) for region, r in self.regions.items() if union - set(r.instances)}
            raise ValueError(f"every region must list every instance type (use available: false); missing: {gaps}")
        return self


class PriceCatalog(_Frozen):
    clouds: dict[Cloud, CloudPrices]

    def region(self, stack: str, cloud: str, region: str) -> RegionPrices:
        prices = self.clouds.get(cloud)  # type: ignore[call-overload]
        if prices is None:
            raise PriceNotFoundError(f"stack '{stack}': no price catalog for cloud {cloud}")
        found = prices.regions.get(region)
        if found is None:
            raise PriceNotFoundError(
                f"stack '{stack}': no {cloud} prices for region {region} (priced regions: {', '.join(sorted(prices.regions))})"
            )
        return found

    def instance_price(self, stack: str, cloud: str, region: str, instance_type: str, capacity: Capacity) -> Price:
        entry = self.region(stack, cloud, region).instances.get(instance_type)
        if entry is None:
            raise PriceNotFoundError(f"stack '{stack}': no price for instance type {instance_type} in {region} ({cloud})")
        if not entry.available:
            raise PriceNotFoundError(
                f"stack '{stack}': instance type {instance_type} is not offered in {region} ({cloud}; {entry.note})"
            )
        return entry.price(capacity)

    def service_price(self, stack: str, cloud: str, region: str, service: str) -> Price:
        price = self.region(stack, cloud, region).services.get(service)  # type: ignore[call-overload]
        if price is None:
            raise PriceNotFoundError(f"stack '{stack}': no {service} price for {region} ({cloud})")
        return price

    def all_prices(self) -> list[tuple[str, str, str, Price | InstanceEntry]]:
        """(cloud, region, name, entry) for every entry; for listing estimates and gaps."""
        rows: list[tuple[str, str, str, Price | InstanceEntry]] = []
        for cloud, prices in sorted(self.clouds.items()):
            for region, rp in sorted(prices.regions.items()):
                rows += [(cloud, region, name, e) for name, e in rp.instances.items()]
                rows += [(cloud, region, name, p) for name, p in rp.services.items()]
        return rows


def _read_yaml(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except FileNotFoundError:
        raise PriceCatalogError(f"{path}: price file not found") from None
    except yaml.YAMLError as exc:
        raise PriceCatalogError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None


def _first_error(path: Path, exc: ValidationError) -> PriceCatalogError:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    return PriceCatalogError(f"{path}: {where}: {msg}" if where else f"{path}: {msg}")


def parse_cloud_prices(doc: Any, path: Path) -> CloudPrices:
    try:
        return CloudPrices.model_validate(doc)
    except ValidationError as exc:
        raise _first_error(path, exc) from None


def load_price_catalog(directory: Path = PRICES_DIR) -> PriceCatalog:
    """Both clouds' price files from `directory`, validated."""
    clouds = {}
    for cloud, name in CLOUD_FILES.items():
        path = directory / name
        prices = parse_cloud_prices(_read_yaml(path), path)
        if prices.cloud != cloud:
            raise PriceCatalogError(f"{path}: cloud must be {cloud}; got {prices.cloud}")
        clouds[cloud] = prices
    return PriceCatalog(clouds=clouds)


@lru_cache(maxsize=4)
def default_price_catalog(directory: Path = PRICES_DIR) -> PriceCatalog:
    return load_price_catalog(directory)


class _FxFile(_Frozen):
    cny_per_usd: Decimal = Field(gt=0)
    as_of: date
    source: str = Field(pattern=r"^https?://")
    note: str = ""

    _rate_exact = field_validator("cny_per_usd", mode="before")(_no_float)


def load_fx(path: Path) -> FxRate:
    """A CNY/USD rate file (rate, date, source); the project rate itself lives in Pulumi.yaml."""
    try:
        fx = _FxFile.model_validate(_read_yaml(path))
    except ValidationError as exc:
        raise _first_error(path, exc) from None
    return FxRate(cny_per_usd=fx.cny_per_usd, as_of=fx.as_of, source=fx.source, note=fx.note)
