"""Tiny inline-SVG charts for the HTML report (no JavaScript, no CDN).

A report attached to a change request must render years later, offline, in
any browser or mail client, so charts are plain SVG strings built here:
an empirical CDF per latency metric, latency over time as a scatter, and a
per-second throughput line. All functions are pure and return markup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

PALETTE = ("#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2")
WIDTH, HEIGHT = 640, 280
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 16, 44, 44
# Presentation attributes, not CSS classes: the SVG must look the same when copied out of the page.
TEXT = 'font-family="Helvetica, Arial, sans-serif" fill="#374151"'


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[tuple[float, float]]
    color: str = PALETTE[0]
    style: str = "line"  # "line", "dots" or "crosses"


@dataclass(frozen=True)
class Band:
    """A shaded x-range, e.g. the warm-up period."""

    start: float
    end: float
    label: str


@dataclass(frozen=True)
class Rule:
    """A vertical or horizontal reference line."""

    value: float
    label: str
    vertical: bool = True
    color: str = "#6b7280"


@dataclass
class _Scale:
    lo: float
    hi: float
    pixel_lo: float
    pixel_hi: float

    def __call__(self, v: float) -> float:
        span = self.hi - self.lo
        frac = 0.5 if span == 0 else (v - self.lo) / span
        return self.pixel_lo + frac * (self.pixel_hi - self.pixel_lo)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 x 10^k steps) from at or below lo to at or above hi."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("tick range must be finite")
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(lo / step + 1e-9) * step
    last = math.ceil(hi / step - 1e-9) * step
    return [round(first + i * step, 10) for i in range(round((last - first) / step) + 1)]


def _label(v: float) -> str:
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if v == int(v):
        return f"{int(v)}"
    return f"{v:g}"


@dataclass
class Chart:
    title: str
    x_label: str
    y_label: str
    series: list[Series] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    y_min: float | None = 0.0

    def render(self) -> str:
        xs = [x for s in self.series for x, _ in s.points] + [b.start for b in self.bands] + \
             [b.end for b in self.bands] + [r.value for r in self.rules if r.vertical]
        ys = [y for s in self.series for _, y in s.points] + [r.value for r in self.rules if not r.vertical]
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
                 f'role="img" aria-label="{escape(self.title)}" class="chart">',
                 f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
                 f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" font-size="13" font-weight="600" {TEXT}>'
                 f'{escape(self.title)}</text>']
        if not xs or not ys:
            parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" font-size="13" {TEXT}>'
                         f'no data</text></svg>')
            return "".join(parts)
        # The x axis ends where the data does (round ticks inside it), so no line runs past its data.
        x_hi = max(xs) if max(xs) > min(xs) else min(xs) + 1.0
        x_ticks = [t for t in nice_ticks(min(xs), x_hi) if t <= x_hi + 1e-9]
        y_lo = self.y_min if self.y_min is not None else min(ys)
        y_ticks = nice_ticks(min(y_lo, min(ys)), max(ys))
        sx = _Scale(x_ticks[0], x_hi, MARGIN_LEFT, WIDTH - MARGIN_RIGHT)
        sy = _Scale(y_ticks[0], y_ticks[-1], HEIGHT - MARGIN_BOTTOM, MARGIN_TOP)
        bottom, right = HEIGHT - MARGIN_BOTTOM, WIDTH - MARGIN_RIGHT
        for band in self.bands:
            x0, x1 = sx(band.start), sx(band.end)
            parts.append(f'<rect x="{x0:.1f}" y="{MARGIN_TOP}" width="{max(x1 - x0, 0):.1f}" '
                         f'height="{bottom - MARGIN_TOP}" fill="#f3f4f6"/>'
                         f'<text x="{(x0 + x1) / 2:.1f}" y="{bottom - 6}" text-anchor="middle" font-size="10.5" '
                         f'{TEXT}>{escape(band.label)}</text>')
        for tick in y_ticks:
            y = sy(tick)
            parts.append(f'<line x1="{MARGIN_LEFT}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>'
                         f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="10.5" {TEXT}>'
                         f'{_label(tick)}</text>')
        for tick in x_ticks:
            parts.append(f'<text x="{sx(tick):.1f}" y="{bottom + 16}" text-anchor="middle" font-size="10.5" '
                         f'{TEXT}>{_label(tick)}</text>')
        parts.append(f'<path d="M{MARGIN_LEFT} {MARGIN_TOP}V{bottom}H{right}" stroke="#9ca3af" fill="none"/>'
                     f'<text x="{(MARGIN_LEFT + right) / 2}" y="{HEIGHT - 8}" text-anchor="middle" font-size="11" '
                     f'{TEXT}>{escape(self.x_label)}</text>'
                     f'<text transform="translate(14 {(MARGIN_TOP + bottom) / 2}) rotate(-90)" '
                     f'text-anchor="middle" font-size="11" {TEXT}>{escape(self.y_label)}</text>')
        for rule in self.rules:
            parts.append(_rule_markup(rule, sx, sy))
        for series in self.series:
            parts.append(_series_markup(series, sx, sy))
        parts.append(_legend(self.series))
        parts.append("</svg>")
        return "".join(parts)


def _rule_markup(rule: Rule, sx: _Scale, sy: _Scale) -> str:
    bottom, right = HEIGHT - MARGIN_BOTTOM, WIDTH - MARGIN_RIGHT
    style = f'stroke="{rule.color}" stroke-dasharray="4 3" stroke-width="1.2"'
    label = f'font-size="10.5" font-family="Helvetica, Arial, sans-serif" fill="{rule.color}"'
    if rule.vertical:
        x = sx(rule.value)
        anchor, dx = ("end", -3) if x > (MARGIN_LEFT + right) / 2 else ("start", 3)
        return (f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{MARGIN_TOP}" y2="{bottom}" {style}/>'
                f'<text x="{x + dx:.1f}" y="{MARGIN_TOP + 12}" text-anchor="{anchor}" {label}>'
                f'{escape(rule.label)}</text>')
    y = sy(rule.value)
    return (f'<line x1="{MARGIN_LEFT}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" {style}/>'
            f'<text x="{right - 3}" y="{y - 4:.1f}" text-anchor="end" {label}>{escape(rule.label)}</text>')


def _series_markup(series: Series, sx: _Scale, sy: _Scale) -> str:
    if not series.points:
        return ""
    if series.style == "line":
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in series.points)
        return f'<polyline points="{coords}" fill="none" stroke="{series.color}" stroke-width="1.6"/>'
    if series.style == "crosses":
        marks = "".join(
            f"M{sx(x) - 3:.1f} {sy(y) - 3:.1f}l6 6m0 -6l-6 6" for x, y in series.points
        )
        return f'<path d="{marks}" stroke="{series.color}" stroke-width="1.4" fill="none"/>'
    dots = "".join(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="1.8"/>' for x, y in series.points)
    return f'<g fill="{series.color}" fill-opacity="0.6">{dots}</g>'


def _legend(series: Sequence[Series]) -> str:
    """One row under the title; series without points are left out."""
    items = []
    x = MARGIN_LEFT
    for s in series:
        if not s.points:
            continue
        items.append(f'<rect x="{x}" y="24" width="10" height="10" fill="{s.color}"/>'
                     f'<text x="{x + 14}" y="33" font-size="10.5" {TEXT}>{escape(s.label)}</text>')
        x += 24 + 6 * len(s.label)
    return "".join(items)


def cdf_points(values: Sequence[float], max_points: int = 400) -> list[tuple[float, float]]:
    """Empirical CDF as (value, percent of samples <= value), thinned to at most max_points."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return []
    step = max(1, math.ceil(n / max_points))
    indices = list(range(0, n, step))
    if indices[-1] != n - 1:
        indices.append(n - 1)
    return [(ordered[i], 100.0 * (i + 1) / n) for i in indices]


def per_second(events: Sequence[tuple[float, float]], start: float, end: float) -> list[tuple[float, float]]:
    """Sum of weights per whole second in [start, end), as (second offset, total)."""
    if end <= start:
        return []
    buckets = [0.0] * math.ceil(end - start)
    for t, weight in events:
        if start <= t < end:
            buckets[int(t - start)] += weight
    return [(float(i), total) for i, total in enumerate(buckets)]
