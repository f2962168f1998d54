"""Value types of the cost engine: what goes in (CostInputs) and what comes out (StackCost).

Frozen dataclasses with Decimal money, so a result is exact, hashable and cannot
be changed after the fact; rounding happens only where figures are shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Literal, get_args

Cloud = Literal["aws", "alicloud"]
Currency = Literal["USD", "CNY"]
Capacity = Literal["on-demand", "spot"]

CLOUDS: tuple[str, ...] = get_args(Cloud)
CURRENCIES: tuple[str, ...] = get_args(Currency)
CAPACITIES: tuple[str, ...] = get_args(Capacity)

# Infracost's convention (and AWS's calculator's): a month is 730 hours (8760 / 12).
HOURS_PER_MONTH = Decimal(730)


class CostInputError(ValueError):
    """CostInputs that cannot describe a real stack (negative counts, unknown cloud...)."""


def to_decimal(value: object, what: str) -> Decimal:
    """Exact Decimal from int/str/Decimal; floats go through str() so 0.1 stays 0.1."""
    if isinstance(value, bool):
        raise CostInputError(f"{what} must be a number; got {value!r}")
    if isinstance(value, float):
        value = str(value)
    try:
        result = Decimal(value)  # type: ignore[arg-type]
    except (InvalidOperation, TypeError, ValueError):
        raise CostInputError(f"{what} must be a number; got {value!r}") from None
    if not result.is_finite():
        raise CostInputError(f"{what} must be a finite number; got {value!r}")
    return result


@dataclass(frozen=True)
class NodePoolInputs:
    """One node pool as the cost engine sees it: what it runs on and how big it gets."""

    name: str
    instance_type: str
    capacity: Capacity
    desired: int
    max: int
    disk_gb: int

    def __post_init__(self) -> None:
        where = f"node pool '{self.name}'"
        if not self.name:
            raise CostInputError("node pool name must not be empty")
        if self.capacity not in CAPACITIES:
            raise CostInputError(f"{where}: capacity must be one of {', '.join(CAPACITIES)}; got {self.capacity!r}")
        for field_name in ("desired", "max", "disk_gb"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise CostInputError(f"{where}: {field_name} must be a whole number >= 0; got {value!r}")
        if self.desired > self.max:
            raise CostInputError(f"{where}: desired ({self.desired}) must not exceed max ({self.max})")


@dataclass(frozen=True)
class CostInputs:
    """Everything that costs money in one stack; built from the typed stack config."""

    stack: str
    cloud: Cloud
    region: str
    jurisdiction: str
    billing_currency: Currency
    node_pools: tuple[NodePoolInputs, ...]
    clusters: int = 1
    nat_gateways: int = 0
    load_balancers: int = 0
    public_ips: int = 0
    object_storage_gb: Decimal = Decimal(0)
    log_ingest_gb_month: Decimal = Decimal(0)
    log_retention_days: int = 0
    nat_processed_gb_month: Decimal = Decimal(0)
    # The metrics pipeline: Prometheus volumes (all replicas), managed-Prometheus ingestion if enabled.
    monitoring_storage_gb: Decimal = Decimal(0)
    managed_metrics_million_samples: Decimal = Decimal(0)
    managed_metrics_million_samples_max: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        where = f"stack '{self.stack}'"
        if not self.stack:
            raise CostInputError("stack name must not be empty")
        if self.cloud not in CLOUDS:
            raise CostInputError(f"{where}: cloud must be one of {', '.join(CLOUDS)}; got {self.cloud!r}")
        if self.billing_currency not in CURRENCIES:
            raise CostInputError(f"{where}: billing_currency must be one of {', '.join(CURRENCIES)}; got {self.billing_currency!r}")
        pools = tuple(self.node_pools)
        names = [p.name for p in pools]
        if len(set(names)) != len(names):
            raise CostInputError(f"{where}: node pool names must be unique; got {', '.join(names)}")
        object.__setattr__(self, "node_pools", pools)
        for field_name in ("clusters", "nat_gateways", "load_balancers", "public_ips", "log_retention_days"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise CostInputError(f"{where}: {field_name} must be a whole number >= 0; got {value!r}")
        for field_name in ("object_storage_gb", "log_ingest_gb_month", "nat_processed_gb_month", "monitoring_storage_gb",
                           "managed_metrics_million_samples", "managed_metrics_million_samples_max"):
            value = to_decimal(getattr(self, field_name), f"{where}: {field_name}")
            if value < 0:
                raise CostInputError(f"{where}: {field_name} must be >= 0; got {value}")
            object.__setattr__(self, field_name, value)


@dataclass(frozen=True)
class FxRate:
    """How many CNY one USD buys, on a stated date; the only conversion the reports use."""

    cny_per_usd: Decimal
    as_of: date
    source: str
    note: str = ""

    def __post_init__(self) -> None:
        rate = to_decimal(self.cny_per_usd, "cny_per_usd")
        if rate <= 0:
            raise CostInputError(f"cny_per_usd must be > 0; got {rate}")
        object.__setattr__(self, "cny_per_usd", rate)

    def convert(self, amount: Decimal, from_currency: str, to_currency: str) -> Decimal:
        """Exact conversion (Decimal division keeps 28 significant digits; no rounding here)."""
        for c in (from_currency, to_currency):
            if c not in CURRENCIES:
                raise CostInputError(f"currency must be one of {', '.join(CURRENCIES)}; got {c!r}")
        if from_currency == to_currency:
            return amount
        if from_currency == "USD":
            return amount * self.cny_per_usd
        return amount / self.cny_per_usd


@dataclass(frozen=True)
class LineItem:
    """One billed thing; money fields are in the stack's billing currency, unit_price as quoted."""

    key: str  # stable id across revisions, e.g. "pool:gpu:instances"
    resource: str  # what a reader sees, e.g. "gpu pool: g5.xlarge (on-demand)"
    category: str  # compute | storage | network | cluster | logging
    quantity: Decimal  # at the desired size
    quantity_max: Decimal  # at the autoscaling maximum
    quantity_unit: str  # instances, GB, GB/month, ...
    unit: str  # the price's unit: instance-hour, GB-month, GB, ...
    unit_price: Decimal
    price_currency: Currency
    hourly: Decimal
    monthly: Decimal
    hourly_max: Decimal
    monthly_max: Decimal
    estimate: bool
    source: str
    as_of: date
    note: str = ""


@dataclass(frozen=True)
class Totals:
    hourly: Decimal
    monthly: Decimal


@dataclass(frozen=True)
class StackCost:
    """A stack's line items and totals, in its billing currency and in USD, desired and max."""

    stack: str
    cloud: Cloud
    region: str
    jurisdiction: str
    billing_currency: Currency
    line_items: tuple[LineItem, ...]
    desired: Totals
    maximum: Totals
    desired_usd: Totals
    maximum_usd: Totals
    fx: FxRate
    hours_per_month: Decimal = HOURS_PER_MONTH

    @property
    def has_estimates(self) -> bool:
        return any(item.estimate for item in self.line_items)
