"""StackCost <-> the plain dict the Pulumi program exports as `cost`.

Money is written as decimal strings (JSON numbers would be floats again):
hourly amounts to 4 places, monthly to 2, unit prices and quantities exact.
`stack_cost_from_outputs` reads a deployed stack's export back for `--from-deployed`.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Mapping

from gpufleet.core.cost.model import FxRate, LineItem, StackCost, Totals

SCHEMA = "gpufleet.cost/v1"
CENT = Decimal("0.01")
HOURLY_PLACES = Decimal("0.0001")


def money(amount: Decimal, places: Decimal = CENT) -> str:
    """Round half up for display only; the Decimal stays exact everywhere else."""
    return str(amount.quantize(places, rounding=ROUND_HALF_UP))


def exact(value: Decimal) -> str:
    """A price or rate as written in the catalog ("0.10" stays "0.10")."""
    return format(value, "f")


def quantity_text(value: Decimal) -> str:
    """Whole quantities as integers; derived ones (stored log GB) to 4 places."""
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.quantize(HOURLY_PLACES, rounding=ROUND_HALF_UP).normalize(), "f")


def _totals(t: Totals) -> dict[str, str]:
    return {"hourly": money(t.hourly, HOURLY_PLACES), "monthly": money(t.monthly)}


def _line(item: LineItem) -> dict[str, Any]:
    return {
        "key": item.key,
        "resource": item.resource,
        "category": item.category,
        "quantity": quantity_text(item.quantity),
        "quantity_max": quantity_text(item.quantity_max),
        "quantity_unit": item.quantity_unit,
        "unit": item.unit,
        "unit_price": exact(item.unit_price),
        "price_currency": item.price_currency,
        "hourly": money(item.hourly, HOURLY_PLACES),
        "monthly": money(item.monthly),
        "hourly_max": money(item.hourly_max, HOURLY_PLACES),
        "monthly_max": money(item.monthly_max),
        "estimate": item.estimate,
        "source": item.source,
        "as_of": item.as_of.isoformat(),
        "note": item.note,
    }


def stack_cost_outputs(cost: StackCost) -> dict[str, Any]:
    """JSON-serialisable summary for `pulumi.export("cost", ...)` and `--format json`."""
    return {
        "schema": SCHEMA,
        "stack": cost.stack,
        "cloud": cost.cloud,
        "region": cost.region,
        "jurisdiction": cost.jurisdiction,
        "billing_currency": cost.billing_currency,
        "hours_per_month": int(cost.hours_per_month),
        "fx": {"cny_per_usd": exact(cost.fx.cny_per_usd), "as_of": cost.fx.as_of.isoformat(), "source": cost.fx.source},
        "totals": {
            cost.billing_currency: {"desired": _totals(cost.desired), "max": _totals(cost.maximum)},
            "USD": {"desired": _totals(cost.desired_usd), "max": _totals(cost.maximum_usd)},
        },
        "has_estimates": cost.has_estimates,
        "line_items": [_line(i) for i in cost.line_items],
    }


class OutputsError(ValueError):
    """A `cost` export that is not of the gpufleet.cost/v1 shape."""


def _read_totals(raw: Mapping[str, Any]) -> Totals:
    return Totals(Decimal(raw["hourly"]), Decimal(raw["monthly"]))


def stack_cost_from_outputs(data: Mapping[str, Any]) -> StackCost:
    """Rebuild a StackCost (at display precision) from `stack_cost_outputs` data."""
    if data.get("schema") != SCHEMA:
        raise OutputsError(f"cost output schema must be {SCHEMA}; got {data.get('schema')!r}")
    try:
        currency = data["billing_currency"]
        fx = FxRate(Decimal(data["fx"]["cny_per_usd"]), date.fromisoformat(data["fx"]["as_of"]), data["fx"]["source"])
        items = tuple(
            LineItem(
                key=i["key"], resource=i["resource"], category=i["category"],
                quantity=Decimal(i["quantity"]), quantity_max=Decimal(i["quantity_max"]),
                quantity_unit=i["quantity_unit"], unit=i["unit"], unit_price=Decimal(i["unit_price"]),
                price_currency=i["price_currency"], hourly=Decimal(i["hourly"]), monthly=Decimal(i["monthly"]),
                hourly_max=Decimal(i["hourly_max"]), monthly_max=Decimal(i["monthly_max"]),
                estimate=bool(i["estimate"]), source=i["source"], as_of=date.fromisoformat(i["as_of"]),
                note=i.get("note", ""),
            )
            for i in data["line_items"]
        )
        totals = data["totals"]
        return StackCost(
            stack=data["stack"], cloud=data["cloud"], region=data["region"], jurisdiction=data["jurisdiction"],
            billing_currency=currency, line_items=items,
            desired=_read_totals(totals[currency]["desired"]), maximum=_read_totals(totals[currency]["max"]),
            desired_usd=_read_totals(totals["USD"]["desired"]), maximum_usd=_read_totals(totals["USD"]["max"]),
            fx=fx, hours_per_month=Decimal(data["hours_per_month"]),
        )
    except (KeyError, TypeError, ArithmeticError, ValueError) as exc:
        raise OutputsError(f"cost output is missing or has a bad field ({exc.__class__.__name__}: {exc})") from None
