"""Price one stack: CostInputs x PriceCatalog x FxRate -> StackCost.

Pure: no I/O, no clock. Hourly-billed things (instances, cluster fee, gateways,
load balancers, IPs) cost hourly x 730 a month; usage things (GB stored, GB
ingested, GB processed) are monthly quantities whose hourly share is monthly / 730.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from gpufleet.core.cost.catalog import Price, PriceCatalog
from gpufleet.core.cost.model import HOURS_PER_MONTH, CostInputs, FxRate, LineItem, StackCost, Totals

ZERO = Decimal(0)


@dataclass(frozen=True)
class _Line:
    """A line before money: what is counted, how much, and at which price."""

    key: str
    resource: str
    category: str
    quantity: Decimal
    quantity_max: Decimal
    quantity_unit: str
    price: Price
    per_hour: bool  # True: price x quantity is an hourly amount; False: a monthly amount


def _price_line(line: _Line, billing_currency: str, fx: FxRate) -> LineItem:
    def amounts(quantity: Decimal) -> tuple[Decimal, Decimal]:
        native = line.price.amount * quantity
        if line.per_hour:
            hourly = fx.convert(native, line.price.currency, billing_currency)
            return hourly, hourly * HOURS_PER_MONTH
        monthly = fx.convert(native, line.price.currency, billing_currency)
        return monthly / HOURS_PER_MONTH, monthly

    hourly, monthly = amounts(line.quantity)
    hourly_max, monthly_max = amounts(line.quantity_max)
    note = "; ".join(p for p in (line.price.note, line.price.derivation) if p)
    return LineItem(
        key=line.key,
        resource=line.resource,
        category=line.category,
        quantity=line.quantity,
        quantity_max=line.quantity_max,
        quantity_unit=line.quantity_unit,
        unit=line.price.unit,
        unit_price=line.price.amount,
        price_currency=line.price.currency,
        hourly=hourly,
        monthly=monthly,
        hourly_max=hourly_max,
        monthly_max=monthly_max,
        estimate=line.price.estimate,
        source=line.price.source,
        as_of=line.price.as_of,
        note=note,
    )


def stored_log_gb(ingest_gb_month: Decimal, retention_days: int, included_days: int) -> Decimal:
    """Steady-state GB held: a day's ingest (monthly / (730 / 24)) kept for the billable days."""
    billable_days = max(0, retention_days - included_days)
    return ingest_gb_month * billable_days * 24 / HOURS_PER_MONTH


def _lines(inputs: CostInputs, catalog: PriceCatalog) -> list[_Line]:
    s, cloud, region = inputs.stack, inputs.cloud, inputs.region

    def svc(name: str) -> Price:
        return catalog.service_price(s, cloud, region, name)

    lines: list[_Line] = []
    for pool in inputs.node_pools:
        price = catalog.instance_price(s, cloud, region, pool.instance_type, pool.capacity)
        lines.append(_Line(
            f"pool:{pool.name}:instances", f"{pool.name} pool: {pool.instance_type} ({pool.capacity})", "compute",
            Decimal(pool.desired), Decimal(pool.max), "instances", price, True,
        ))
        if pool.disk_gb:
            lines.append(_Line(
                f"pool:{pool.name}:disks", f"{pool.name} pool: node disks ({pool.disk_gb} GB each)", "storage",
                Decimal(pool.disk_gb * pool.desired), Decimal(pool.disk_gb * pool.max), "GB", svc("block_storage"), False,
            ))
    fixed = [
        ("cluster", "managed Kubernetes control plane", "cluster", inputs.clusters, "clusters", "cluster_fee"),
        ("nat", "NAT gateways", "network", inputs.nat_gateways, "gateways", "nat_gateway"),
        ("lb", "load balancers", "network", inputs.load_balancers, "load balancers", "load_balancer"),
        ("public_ip", "public IP addresses", "network", inputs.public_ips, "addresses", "public_ip"),
    ]
    for key, label, category, count, unit, service in fixed:
        if count:
            q = Decimal(count)
            lines.append(_Line(key, label, category, q, q, unit, svc(service), True))
    usage = [
        ("nat_processed", "NAT gateway data processed", "network", inputs.nat_processed_gb_month, "GB/month", "nat_processed"),
        ("object_storage", "object storage", "storage", inputs.object_storage_gb, "GB", "object_storage"),
        ("log_ingest", "log ingestion", "logging", inputs.log_ingest_gb_month, "GB/month", "log_ingest"),
    ]
    for key, label, category, amount, unit, service in usage:
        if amount:
            lines.append(_Line(key, label, category, amount, amount, unit, svc(service), False))
    lines += _monitoring_lines(inputs, svc)
    if inputs.log_ingest_gb_month and inputs.log_retention_days:
        price = svc("log_storage")
        stored = stored_log_gb(inputs.log_ingest_gb_month, inputs.log_retention_days, price.included_days)
        if stored:
            label = f"log storage ({inputs.log_retention_days} days retention"
            label += f", first {price.included_days} included)" if price.included_days else ")"
            lines.append(_Line("log_storage", label, "logging", stored, stored, "GB", price, False))
    return lines


def _monitoring_lines(inputs: CostInputs, svc) -> list[_Line]:
    """Prometheus volumes and, with remote write, managed-Prometheus ingestion (desired vs max size)."""
    lines: list[_Line] = []
    if inputs.monitoring_storage_gb:
        q = inputs.monitoring_storage_gb
        lines.append(_Line("monitoring_storage", "monitoring: Prometheus volumes", "monitoring", q, q, "GB",
                           svc("block_storage"), False))
    if inputs.managed_metrics_million_samples:
        lines.append(_Line("managed_metrics", "monitoring: managed Prometheus ingestion", "monitoring",
                           inputs.managed_metrics_million_samples, inputs.managed_metrics_million_samples_max,
                           "million samples/month", svc("managed_metrics_samples"), False))
    return lines


def _totals(items: tuple[LineItem, ...], maximum: bool) -> Totals:
    if maximum:
        return Totals(sum((i.hourly_max for i in items), ZERO), sum((i.monthly_max for i in items), ZERO))
    return Totals(sum((i.hourly for i in items), ZERO), sum((i.monthly for i in items), ZERO))


def _in_usd(totals: Totals, currency: str, fx: FxRate) -> Totals:
    return Totals(fx.convert(totals.hourly, currency, "USD"), fx.convert(totals.monthly, currency, "USD"))


def compute_stack_cost(inputs: CostInputs, catalog: PriceCatalog, fx: FxRate) -> StackCost:
    """Line items and totals for the desired size and the autoscaling maximum."""
    items = tuple(_price_line(line, inputs.billing_currency, fx) for line in _lines(inputs, catalog))
    desired, maximum = _totals(items, False), _totals(items, True)
    return StackCost(
        stack=inputs.stack,
        cloud=inputs.cloud,
        region=inputs.region,
        jurisdiction=inputs.jurisdiction,
        billing_currency=inputs.billing_currency,
        line_items=items,
        desired=desired,
        maximum=maximum,
        desired_usd=_in_usd(desired, inputs.billing_currency, fx),
        maximum_usd=_in_usd(maximum, inputs.billing_currency, fx),
        fx=fx,
    )
