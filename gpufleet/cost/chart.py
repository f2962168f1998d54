"""Inline SVG bar chart of monthly cost: one bar per stack, one segment per line item.

Bars are in USD (desired size) so stacks billed in CNY and USD share one scale.
Plain SVG text with no scripts, fonts or external references, so the HTML
report stays self-contained.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from html import escape
from typing import Sequence

from gpufleet.core.cost.model import StackCost

CATEGORY_COLOURS = {
    "compute": "#4e79a7",
    "storage": "#f28e2b",
    "network": "#59a14f",
    "cluster": "#b07aa1",
    "logging": "#e15759",
}
OTHER_COLOUR = "#9c9c9c"
WIDTH, LABEL_W, VALUE_W, ROW_H, BAR_H, TOP = 760, 170, 110, 30, 20, 30


def _n(value: Decimal) -> str:
    """SVG coordinates with one decimal place, e.g. 12.5."""
    return str(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _usd(value: Decimal) -> str:
    return f"${value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


def svg_monthly_chart(costs: Sequence[StackCost]) -> str:
    bar_w = Decimal(WIDTH - LABEL_W - VALUE_W)
    peak = max((c.desired_usd.monthly for c in costs), default=Decimal(0))
    legend_y = TOP + ROW_H * len(costs) + 10
    height = legend_y + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="Monthly cost by stack and line item (USD)">',
        '<title>Monthly cost by stack and line item (USD, desired size)</title>',
        '<text x="0" y="18" font-family="sans-serif" font-size="13" font-weight="bold">'
        "Monthly cost by stack and line item (USD, desired size)</text>",
    ]
    for row, cost in enumerate(costs):
        y = Decimal(TOP + row * ROW_H)
        parts.append(
            f'<text x="{LABEL_W - 8}" y="{_n(y + 14)}" text-anchor="end" font-family="sans-serif" '
            f'font-size="12">{escape(cost.stack)}</text>'
        )
        x = Decimal(LABEL_W)
        for item in cost.line_items:
            usd = cost.fx.convert(item.monthly, cost.billing_currency, "USD")
            if not usd or not peak:
                continue
            w = usd / peak * bar_w
            colour = CATEGORY_COLOURS.get(item.category, OTHER_COLOUR)
            parts.append(
                f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{BAR_H}" fill="{colour}" '
                f'data-key="{escape(item.key)}"><title>{escape(cost.stack)}: {escape(item.resource)} '
                f"{_usd(usd)}/month</title></rect>"
            )
            x += w
        parts.append(
            f'<text x="{_n(x + 6)}" y="{_n(y + 14)}" font-family="sans-serif" font-size="12">'
            f"{_usd(cost.desired_usd.monthly)}</text>"
        )
    x = 0
    for category, colour in CATEGORY_COLOURS.items():
        parts.append(f'<rect x="{x}" y="{legend_y}" width="12" height="12" fill="{colour}"/>')
        parts.append(
            f'<text x="{x + 16}" y="{legend_y + 11}" font-family="sans-serif" font-size="12">{category}</text>'
        )
        x += 110
    parts.append("</svg>")
    return "\n".join(parts)
