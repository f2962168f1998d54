"""Turn StackCosts into the report formats: console table, CSV, JSON, Markdown, HTML, diff.

The only place figures are rounded (half up, to cents; hourly to 4 places).
Every renderer is a pure function returning a string, so formats are testable.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from typing import Any, Mapping, Sequence

import jinja2
from rich import box
from rich.console import Console
from rich.table import Table

from gpufleet.cost.chart import svg_monthly_chart
from gpufleet.cost.diff import StackChange, total_change_usd
from gpufleet.core.cost.model import HOURS_PER_MONTH, StackCost
from gpufleet.core.cost.outputs import HOURLY_PLACES, exact, money, quantity_text, stack_cost_outputs
from gpufleet.core.cost.per_token import TokenCost

SYMBOLS = {"USD": "$", "CNY": "¥"}
FLAG = "⚠"
REPORT_SCHEMA = "gpufleet.cost-report/v1"
PER_TOKEN_BASIS = "whole stack hourly cost at the desired size / (output tokens per second x 3600) x 10^6"
CSV_HEADER = (
    "stack", "cloud", "region", "billing_currency", "key", "resource", "category",
    "quantity", "quantity_max", "quantity_unit", "unit", "unit_price", "price_currency",
    "hourly", "monthly", "hourly_max", "monthly_max", "monthly_usd", "monthly_max_usd",
    "estimate", "source", "as_of",
)


def fmt_money(amount: Decimal, currency: str, places: Decimal = Decimal("0.01")) -> str:
    """'$1,234.56' / '¥1,234.56'; negative amounts as '-$12.00'."""
    q = amount.quantize(places, rounding=ROUND_HALF_UP)
    sign = "-" if q < 0 else ""
    return f"{sign}{SYMBOLS.get(currency, currency + ' ')}{abs(q):,}"


def fmt_change(amount: Decimal, currency: str) -> str:
    q = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return ("+" if q > 0 else "") + fmt_money(q, currency)


def _per_token_text(token: TokenCost | None) -> str:
    if token is None:
        return "—"
    text = fmt_money(token.per_million, token.currency, Decimal("0.0001"))
    if token.currency != "USD":
        text += f" ({fmt_money(token.per_million_usd, 'USD', Decimal('0.0001'))})"
    return text


def _verdict_text(token: TokenCost | None) -> str:
    if token is None:
        return "—"
    return token.loadtest.verdict if not token.flagged else f"{token.loadtest.verdict} {FLAG}"


def _total_usd(costs: Sequence[StackCost]) -> tuple[Decimal, Decimal]:
    return (
        sum((c.desired_usd.monthly for c in costs), Decimal(0)),
        sum((c.maximum_usd.monthly for c in costs), Decimal(0)),
    )


# ---------------------------------------------------------------- console


def summary_table(costs: Sequence[StackCost], tokens: Mapping[str, TokenCost]) -> Table:
    """Fits an 80-column terminal without breaking a stack name: desired size on the first line of a row,
    maximum size (dim) under it; the other formats carry every figure."""
    table = Table(title="gpufleet monthly cost (730 h/month)", box=box.SIMPLE_HEAVY, caption_justify="left",
                  pad_edge=False)
    table.add_column("Stack", no_wrap=True)
    for name in ("Monthly\n(max)", "USD/month\n(max)", "Per 1M\ntokens"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("Load\ntest", no_wrap=True)
    for c in costs:
        token = tokens.get(c.stack)
        star = "*" if c.has_estimates else ""
        per_million = fmt_money(token.per_million, token.currency, Decimal("0.0001")) if token else "—"
        table.add_row(
            f"{c.stack}\n[dim]{c.cloud} {c.region}[/dim]",
            f"{fmt_money(c.desired.monthly, c.billing_currency)}{star}\n"
            f"[dim]{fmt_money(c.maximum.monthly, c.billing_currency)}{star}[/dim]",
            f"{fmt_money(c.desired_usd.monthly, 'USD')}\n[dim]{fmt_money(c.maximum_usd.monthly, 'USD')}[/dim]",
            per_million, _verdict_text(token),
            style="bold red" if token is not None and token.flagged else None,
        )
    desired, maximum = _total_usd(costs)
    table.add_section()
    table.add_row("Total (USD)", "", f"{fmt_money(desired, 'USD')}\n[dim]{fmt_money(maximum, 'USD')}[/dim]", "", "")
    notes = [f"USD at max: {fmt_money(maximum, 'USD')}."]
    if any(c.has_estimates for c in costs):
        notes.append("* includes estimated prices (see --lines).")
    table.caption = " ".join(notes)
    return table


def lines_table(cost: StackCost) -> Table:
    cur = cost.billing_currency
    table = Table(title=f"{cost.stack} ({cost.cloud} {cost.region}, {cur})", box=box.SIMPLE)
    for name, justify in (
        ("Resource", "left"), ("Qty", "right"), ("Qty (max)", "right"), ("Unit price", "right"),
        ("Hourly", "right"), ("Monthly", "right"), ("Monthly (max)", "right"), ("Est.", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for i in cost.line_items:
        table.add_row(
            i.resource, f"{quantity_text(i.quantity)} {i.quantity_unit}", quantity_text(i.quantity_max),
            f"{exact(i.unit_price)} {i.price_currency}/{i.unit}",
            fmt_money(i.hourly, cur, HOURLY_PLACES), fmt_money(i.monthly, cur), fmt_money(i.monthly_max, cur),
            "yes" if i.estimate else "",
        )
    table.add_section()
    table.add_row("Total", "", "", "", fmt_money(cost.desired.hourly, cur, HOURLY_PLACES),
                  fmt_money(cost.desired.monthly, cur), fmt_money(cost.maximum.monthly, cur), "")
    return table


def print_table(console: Console, costs: Sequence[StackCost], tokens: Mapping[str, TokenCost], lines: bool) -> None:
    console.print(summary_table(costs, tokens))
    if lines:
        for cost in costs:
            console.print(lines_table(cost))
    flagged = [t.stack for t in tokens.values() if t.flagged]
    if flagged:
        console.print(f"{FLAG} load test did not pass its SLO gate for: {', '.join(flagged)}")
    from gpufleet.core.registry_billing import registry_billing
    for cost in costs:  # the registry is not priced; say how it is billed where destroy cannot refund it
        facts = registry_billing(cost.cloud)
        if facts["warning"]:
            console.print(f"{cost.stack}: registry {facts['service']} {facts['edition']}, {facts['billing']}: "
                          f"{facts['warning']}")


def render_table(costs: Sequence[StackCost], tokens: Mapping[str, TokenCost], lines: bool = False, width: int = 160) -> str:
    buffer = io.StringIO()
    print_table(Console(file=buffer, width=width, color_system=None), costs, tokens, lines)
    return buffer.getvalue()


# ---------------------------------------------------------------- csv / json


def render_csv(costs: Sequence[StackCost]) -> str:
    """One row per line item per stack; amounts in the stack's billing currency plus USD."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for c in costs:
        for i in c.line_items:
            writer.writerow([
                c.stack, c.cloud, c.region, c.billing_currency, i.key, i.resource, i.category,
                quantity_text(i.quantity), quantity_text(i.quantity_max), i.quantity_unit, i.unit, exact(i.unit_price), i.price_currency,
                money(i.hourly, HOURLY_PLACES), money(i.monthly), money(i.hourly_max, HOURLY_PLACES), money(i.monthly_max),
                money(c.fx.convert(i.monthly, c.billing_currency, "USD")),
                money(c.fx.convert(i.monthly_max, c.billing_currency, "USD")),
                "true" if i.estimate else "false", i.source, i.as_of.isoformat(),
            ])
    return buffer.getvalue()


def token_outputs(token: TokenCost) -> dict[str, Any]:
    lt = token.loadtest
    return {
        "basis": PER_TOKEN_BASIS,
        "currency": token.currency,
        "hourly": money(token.hourly, HOURLY_PLACES),
        "per_million": money(token.per_million, HOURLY_PLACES),
        "per_million_usd": money(token.per_million_usd, HOURLY_PLACES),
        "flagged": token.flagged,
        "loadtest": {
            "path": lt.path, "target": lt.target, "model": lt.model, "verdict": lt.verdict,
            "duration_s": exact(lt.duration_s), "output_tokens_per_s": exact(lt.output_tokens_per_s),
        },
    }


def report_outputs(costs: Sequence[StackCost], tokens: Mapping[str, TokenCost]) -> dict[str, Any]:
    desired, maximum = _total_usd(costs)
    stacks = []
    for c in costs:
        entry = stack_cost_outputs(c)
        token = tokens.get(c.stack)
        entry["per_million_output_tokens"] = token_outputs(token) if token else None
        stacks.append(entry)
    return {
        "schema": REPORT_SCHEMA,
        "hours_per_month": int(HOURS_PER_MONTH),
        "total_usd": {"desired": {"monthly": money(desired)}, "max": {"monthly": money(maximum)}},
        "stacks": stacks,
    }


def render_json(costs: Sequence[StackCost], tokens: Mapping[str, TokenCost]) -> str:
    return json.dumps(report_outputs(costs, tokens), indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------- markdown


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(costs: Sequence[StackCost], tokens: Mapping[str, TokenCost]) -> str:
    out = [
        "## gpufleet cost",
        "",
        "| Stack | Cloud | Region | Monthly (desired) | Monthly (max) | USD/month (desired) | USD/month (max) "
        "| Cost / 1M output tokens | Load test |",
        "|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for c in costs:
        token = tokens.get(c.stack)
        verdict = _verdict_text(token)
        if token is not None and token.flagged:
            verdict = f"**{token.loadtest.verdict}** {FLAG} SLO gate not passed"
        out.append(
            f"| {_md(c.stack)} | {c.cloud} | {c.region} | {fmt_money(c.desired.monthly, c.billing_currency)} "
            f"| {fmt_money(c.maximum.monthly, c.billing_currency)} | {fmt_money(c.desired_usd.monthly, 'USD')} "
            f"| {fmt_money(c.maximum_usd.monthly, 'USD')} | {_per_token_text(token)} | {verdict} |"
        )
    desired, maximum = _total_usd(costs)
    out.append(f"| **Total (USD)** | | | | | **{fmt_money(desired, 'USD')}** | **{fmt_money(maximum, 'USD')}** | | |")
    for c in costs:
        cur = c.billing_currency
        out += [
            "",
            f"### {c.stack} ({c.cloud} {c.region}, {cur})",
            "",
            "| Line item | Qty (desired) | Qty (max) | Unit price | Monthly (desired) | Monthly (max) | Estimate |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for i in c.line_items:
            out.append(
                f"| {_md(i.resource)} | {quantity_text(i.quantity)} {i.quantity_unit} | {quantity_text(i.quantity_max)} "
                f"| {exact(i.unit_price)} {i.price_currency}/{i.unit} | {fmt_money(i.monthly, cur)} "
                f"| {fmt_money(i.monthly_max, cur)} | {'yes' if i.estimate else ''} |"
            )
        out.append(f"| **Total** | | | | **{fmt_money(c.desired.monthly, cur)}** | **{fmt_money(c.maximum.monthly, cur)}** | |")
    fx = costs[0].fx if costs else None
    out += ["", f"_{int(HOURS_PER_MONTH)} hours/month."]
    if fx is not None:
        out[-1] += f" CNY/USD {exact(fx.cny_per_usd)} as of {fx.as_of.isoformat()}."
    out[-1] += " Cost per 1M output tokens = whole stack hourly at desired size / (output tokens/s x 3600) x 10^6._"
    return "\n".join(out) + "\n"


def _percent_text(ch: StackChange) -> str:
    if ch.status in ("added", "removed"):
        return "new" if ch.status == "added" else "removed"
    pct = ch.percent
    if pct is None:
        return "—"
    q = pct.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{'+' if q > 0 else ''}{q}%"


def render_diff_markdown(changes: Sequence[StackChange], rev: str) -> str:
    """A pull-request comment: monthly change per stack, then per changed line item."""
    total = total_change_usd(tuple(changes))
    out = [
        f"## gpufleet cost change vs `{rev}`",
        "",
        f"Monthly cost at the desired size ({int(HOURS_PER_MONTH)} h/month). "
        f"Total change: **{fmt_change(total, 'USD')}/month** (USD).",
        "",
        "| Stack | Before | After | Change | % |",
        "|---|---:|---:|---:|---:|",
    ]
    for ch in changes:
        before = fmt_money(ch.before, ch.currency) if ch.before is not None else "—"
        after = fmt_money(ch.after, ch.currency) if ch.after is not None else "—"
        out.append(f"| {_md(ch.stack)} | {before} | {after} | {fmt_change(ch.change, ch.currency)} | {_percent_text(ch)} |")
    for ch in changes:
        if not ch.lines:
            continue
        out += ["", f"### {ch.stack}", "", "| Line item | Before | After | Change |", "|---|---:|---:|---:|"]
        for line in ch.lines:
            before = fmt_money(line.before, ch.currency) if line.before is not None else "—"
            after = fmt_money(line.after, ch.currency) if line.after is not None else "—"
            out.append(f"| {_md(line.resource)} | {before} | {after} | {fmt_change(line.change, ch.currency)} |")
    if not any(ch.status != "unchanged" for ch in changes):
        out += ["", "No cost change."]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- html


def _html_rows(costs: Sequence[StackCost], tokens: Mapping[str, TokenCost]) -> list[dict[str, Any]]:
    rows = []
    for c in costs:
        cur = c.billing_currency
        token = tokens.get(c.stack)
        rows.append({
            "stack": c.stack, "cloud": c.cloud, "region": c.region, "currency": cur,
            "hourly": fmt_money(c.desired.hourly, cur, HOURLY_PLACES),
            "monthly": fmt_money(c.desired.monthly, cur), "monthly_max": fmt_money(c.maximum.monthly, cur),
            "monthly_usd": fmt_money(c.desired_usd.monthly, "USD"), "monthly_max_usd": fmt_money(c.maximum_usd.monthly, "USD"),
            "per_million": _per_token_text(token), "verdict": _verdict_text(token),
            "flagged": bool(token and token.flagged), "estimates": c.has_estimates,
            "lines": [
                {
                    "resource": i.resource, "quantity": quantity_text(i.quantity), "quantity_max": quantity_text(i.quantity_max),
                    "quantity_unit": i.quantity_unit, "unit_price": f"{exact(i.unit_price)} {i.price_currency}/{i.unit}",
                    "hourly": fmt_money(i.hourly, cur, HOURLY_PLACES), "monthly": fmt_money(i.monthly, cur),
                    "monthly_max": fmt_money(i.monthly_max, cur), "estimate": i.estimate, "note": i.note,
                    "source": i.source, "as_of": i.as_of.isoformat(),
                }
                for i in c.line_items
            ],
        })
    return rows


def render_html(costs: Sequence[StackCost], tokens: Mapping[str, TokenCost]) -> str:
    """A single self-contained page (inline CSS and SVG, no scripts or CDN)."""
    source = resources.files("gpufleet.cost").joinpath("report.html.jinja").read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    fx = costs[0].fx if costs else None
    return env.from_string(source).render(
        rows=_html_rows(costs, tokens),
        chart=svg_monthly_chart(costs),
        chart_max=svg_monthly_chart(costs, maximum=True),
        fleet={"desired": fmt_money(_total_usd(costs)[0], "USD"), "maximum": fmt_money(_total_usd(costs)[1], "USD")},
        hours_per_month=int(HOURS_PER_MONTH),
        fx={"cny_per_usd": exact(fx.cny_per_usd), "as_of": fx.as_of.isoformat(), "source": fx.source} if fx
        else {"cny_per_usd": "—", "as_of": "—", "source": "#"},
    )


FORMATS = ("table", "csv", "json", "markdown", "html")


def render(fmt: str, costs: Sequence[StackCost], tokens: Mapping[str, TokenCost], lines: bool = False) -> str:
    if fmt == "table":
        return render_table(costs, tokens, lines)
    if fmt == "csv":
        return render_csv(costs)
    if fmt == "json":
        return render_json(costs, tokens)
    if fmt == "markdown":
        return render_markdown(costs, tokens)
    if fmt == "html":
        return render_html(costs, tokens)
    raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}")
