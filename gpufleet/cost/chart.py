"""Inline SVG bar charts of monthly cost: one bar per stack plus the fleet total, one segment per line item.

Two views, desired size and maximum size (every pool at its autoscaling
ceiling), each in USD so stacks billed in CNY and USD share one scale, with
a value axis. Segments are coloured by category; line items of one category
alternate between two shades so neighbours stay apart. A segment wide enough
carries its amount; the small ones are listed, with their colour, under the
bar. Plain SVG text with no scripts, fonts or external references, so the
HTML report stays self-contained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from html import escape
from typing import Sequence

from gpufleet.core.cost.model import StackCost

CATEGORY_COLOURS = {
    "compute": ("#4e79a7", "#a0cbe8"),
    "storage": ("#f28e2b", "#ffbe7d"),
    "network": ("#59a14f", "#8cd17d"),
    "cluster": ("#b07aa1", "#d4a6c8"),
    "logging": ("#e15759", "#ff9d9a"),
}
OTHER_COLOURS = ("#9c9c9c", "#c9c9c9")
WIDTH, LABEL_W, VALUE_W, BAR_H, TOP = 860, 170, 100, 20, 52
CHAR_W = 6.6  # average width of a 11 px sans-serif character, for "does the label fit"
FONT = 'font-family="sans-serif"'


@dataclass(frozen=True)
class _Segment:
    stack: str
    key: str
    resource: str
    category: str
    usd: Decimal
    colour: str


def _n(value: Decimal | float) -> str:
    """SVG coordinates with one decimal place, e.g. 12.5."""
    return str(Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _usd(value: Decimal) -> str:
    return f"${value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


def _short_usd(value: Decimal | float) -> str:
    v = float(value)
    if v >= 1_000_000:
        return f"${v / 1_000_000:.1f}M"
    if v >= 10_000:
        return f"${v / 1000:.0f}k"
    if v >= 1000:
        return f"${v / 1000:.2f}".rstrip("0").rstrip(".") + "k"
    return f"${v:.0f}"


def _segments(cost: StackCost, maximum: bool) -> list[_Segment]:
    out, seen = [], {}
    for item in cost.line_items:
        amount = item.monthly_max if maximum else item.monthly
        usd = cost.fx.convert(amount, cost.billing_currency, "USD")
        if not usd:
            continue
        shades = CATEGORY_COLOURS.get(item.category, OTHER_COLOURS)
        index = seen.get(item.category, 0)
        seen[item.category] = index + 1
        out.append(_Segment(cost.stack, item.key, item.resource, item.category, usd, shades[index % 2]))
    return out


def _axis(peak: float) -> list[float]:
    """Round tick values from 0 to at least `peak`."""
    if peak <= 0:
        return [0.0, 1.0]
    raw = peak / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [i * step for i in range(math.ceil(peak / step - 1e-9) + 1)]


def _bar(y: float, label: str, segments: Sequence[_Segment], total: Decimal, scale: float) -> tuple[list[str], float]:
    """One bar with in-segment amounts; small segments listed below it. Returns markup and the next free y."""
    parts = [f'<text x="{LABEL_W - 8}" y="{_n(y + 14)}" text-anchor="end" {FONT} font-size="12">{escape(label)}</text>']
    x, small = float(LABEL_W), []
    for seg in segments:
        w = float(seg.usd) * scale
        parts.append(f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{BAR_H}" fill="{seg.colour}" '
                     f'data-key="{escape(seg.key)}"><title>{escape(seg.stack)}: {escape(seg.resource)} '
                     f"{_usd(seg.usd)}/month</title></rect>")
        text = _short_usd(seg.usd)
        if w >= len(text) * CHAR_W + 6:
            parts.append(f'<text x="{_n(x + w / 2)}" y="{_n(y + 14)}" text-anchor="middle" {FONT} font-size="11" '
                         f'fill="#111">{text}</text>')
        else:
            small.append(seg)
        x += w
    parts.append(f'<text x="{_n(x + 6)}" y="{_n(y + 14)}" {FONT} font-size="12" font-weight="bold">{_usd(total)}</text>')
    y += BAR_H + 4
    line_x, line_y = float(LABEL_W), y + 10
    for seg in small:
        text = f"{seg.resource} {_short_usd(seg.usd)}"
        width = 14 + len(text) * CHAR_W + 12
        if line_x + width > WIDTH and line_x > LABEL_W:
            line_x, line_y = float(LABEL_W), line_y + 15
        parts.append(f'<rect x="{_n(line_x)}" y="{_n(line_y - 9)}" width="10" height="10" fill="{seg.colour}"/>'
                     f'<text x="{_n(line_x + 14)}" y="{_n(line_y)}" {FONT} font-size="11" fill="#333" '
                     f'class="small-item">{escape(text)}</text>')
        line_x += width
    return parts, (line_y + 12 if small else y + 6)


def svg_monthly_chart(costs: Sequence[StackCost], *, maximum: bool = False) -> str:
    view = "maximum size" if maximum else "desired size"
    rows = [(c.stack, _segments(c, maximum), c.maximum_usd.monthly if maximum else c.desired_usd.monthly)
            for c in costs]
    fleet = sum((total for _, _, total in rows), Decimal(0))
    by_category: dict[str, Decimal] = {}
    for _, segments, _ in rows:
        for seg in segments:
            by_category[seg.category] = by_category.get(seg.category, Decimal(0)) + seg.usd
    peak = max((float(total) for _, _, total in rows), default=0.0)
    ticks = _axis(peak)
    scale = (WIDTH - LABEL_W - VALUE_W) / ticks[-1]
    title = f"Monthly cost by stack and line item (USD, {view})"
    body: list[str] = []
    y = float(TOP)
    for stack, segments, total in rows:
        markup, y = _bar(y, stack, segments, total, scale)
        body += markup
    axis_y = y + 4
    grid = [f'<line x1="{LABEL_W}" x2="{_n(LABEL_W + ticks[-1] * scale)}" y1="{_n(axis_y)}" y2="{_n(axis_y)}" '
            f'stroke="#888"/>']
    for tick in ticks:  # drawn first, so the bars and their labels sit on top of the grid
        tx = LABEL_W + tick * scale
        grid.append(f'<line x1="{_n(tx)}" x2="{_n(tx)}" y1="{TOP - 4}" y2="{_n(axis_y + 4)}" stroke="#e3e3e3"/>'
                    f'<text x="{_n(tx)}" y="{_n(axis_y + 16)}" text-anchor="middle" {FONT} font-size="11" '
                    f'class="axis-tick">{_short_usd(tick)}</text>')
    body = grid + body
    body.append(f'<text x="{_n(LABEL_W + ticks[-1] * scale / 2)}" y="{_n(axis_y + 32)}" text-anchor="middle" {FONT} '
                f'font-size="11" fill="#555">USD per month</text>')
    fleet_y = axis_y + 52
    body.append(f'<text x="{LABEL_W - 8}" y="{_n(fleet_y)}" text-anchor="end" {FONT} font-size="12" '
                f'font-weight="bold">Fleet total</text><text x="{LABEL_W}" y="{_n(fleet_y)}" {FONT} font-size="12" '
                f'font-weight="bold" class="fleet-total">{_usd(fleet)}/month</text>')
    legend_y, x = fleet_y + 22, 0.0
    for category, (colour, light) in CATEGORY_COLOURS.items():
        text = f"{category} {_short_usd(by_category.get(category, Decimal(0)))}"
        body.append(f'<rect x="{_n(x)}" y="{_n(legend_y - 10)}" width="12" height="12" fill="{colour}"/>'
                    f'<rect x="{_n(x + 12)}" y="{_n(legend_y - 10)}" width="6" height="12" fill="{light}"/>'
                    f'<text x="{_n(x + 22)}" y="{_n(legend_y)}" {FONT} font-size="12" class="legend">{text}</text>')
        x += 30 + len(text) * 7.2
    height = math.ceil(legend_y + 12)
    head = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
            f'role="img" aria-label="{title}" class="cost-chart">', f"<title>{title}</title>",
            f'<text x="0" y="18" {FONT} font-size="13" font-weight="bold">{title}</text>',
            f'<text x="0" y="36" {FONT} font-size="11" fill="#555">Each segment is one line item (hover for its name); '
            f"amounts of small segments are listed under their bar.</text>"]
    return "\n".join(head + body + ["</svg>"])
