"""Monthly cost change between two sets of stack costs (a git revision and the working tree).

Compared at the desired size, per stack and per line item. A stack keeps its
billing currency when both sides agree; if the currency changed (it moved
cloud), both sides are compared in USD.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Mapping

from gpufleet.core.cost.model import StackCost

Status = Literal["added", "removed", "changed", "unchanged"]


@dataclass(frozen=True)
class LineChange:
    key: str
    resource: str
    before: Decimal | None
    after: Decimal | None

    @property
    def change(self) -> Decimal:
        return (self.after or Decimal(0)) - (self.before or Decimal(0))


@dataclass(frozen=True)
class StackChange:
    stack: str
    currency: str
    before: Decimal | None  # monthly, desired size
    after: Decimal | None
    before_usd: Decimal | None
    after_usd: Decimal | None
    lines: tuple[LineChange, ...]  # only lines whose monthly amount changed

    @property
    def change(self) -> Decimal:
        return (self.after or Decimal(0)) - (self.before or Decimal(0))

    @property
    def change_usd(self) -> Decimal:
        return (self.after_usd or Decimal(0)) - (self.before_usd or Decimal(0))

    @property
    def status(self) -> Status:
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        return "changed" if self.change or self.lines else "unchanged"

    @property
    def percent(self) -> Decimal | None:
        if not self.before:
            return None
        return self.change / self.before * 100


def _monthly_lines(cost: StackCost | None, in_usd: bool) -> dict[str, tuple[str, Decimal]]:
    if cost is None:
        return {}
    out = {}
    for item in cost.line_items:
        amount = item.monthly
        if in_usd:
            amount = cost.fx.convert(amount, cost.billing_currency, "USD")
        out[item.key] = (item.resource, amount)
    return out


def diff_stack(before: StackCost | None, after: StackCost | None) -> StackChange:
    some = after or before
    assert some is not None, "diff_stack needs at least one side"
    in_usd = before is not None and after is not None and before.billing_currency != after.billing_currency
    currency = "USD" if in_usd else some.billing_currency

    def monthly(cost: StackCost | None) -> Decimal | None:
        if cost is None:
            return None
        return cost.desired_usd.monthly if in_usd else cost.desired.monthly

    old, new = _monthly_lines(before, in_usd), _monthly_lines(after, in_usd)
    lines = []
    for key in list(old) + [k for k in new if k not in old]:
        b, a = old.get(key), new.get(key)
        if b is not None and a is not None and b[1] == a[1]:
            continue
        resource = a[0] if a else b[0]  # type: ignore[index]
        lines.append(LineChange(key, resource, b[1] if b else None, a[1] if a else None))
    return StackChange(
        stack=some.stack,
        currency=currency,
        before=monthly(before),
        after=monthly(after),
        before_usd=before.desired_usd.monthly if before else None,
        after_usd=after.desired_usd.monthly if after else None,
        lines=tuple(lines),
    )


def diff_costs(before: Mapping[str, StackCost], after: Mapping[str, StackCost]) -> tuple[StackChange, ...]:
    """One StackChange per stack on either side, in stack-name order."""
    names = sorted(set(before) | set(after))
    return tuple(diff_stack(before.get(n), after.get(n)) for n in names)


def total_change_usd(changes: tuple[StackChange, ...]) -> Decimal:
    return sum((c.change_usd for c in changes), Decimal(0))
