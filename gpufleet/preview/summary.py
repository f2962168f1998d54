"""Readable summary of stack previews (Rich), for people; `--json` is for machines."""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from gpufleet.preview.engine import StackPreview


def _counts_table(preview: StackPreview) -> Table:
    table = Table(title="Resources by type", show_edge=False, title_justify="left")
    table.add_column("type")
    table.add_column("count", justify="right")
    for typ, n in sorted(Counter(r.type for r in preview.resources).items()):
        table.add_row(typ, str(n))
    table.add_row("[bold]total[/bold]", f"[bold]{len(preview.resources)}[/bold]")
    return table


def _pool_table(outputs: dict[str, Any]) -> Table:
    pool = outputs.get("gpuPool", {})
    table = Table(title="GPU pool", show_edge=False, title_justify="left", show_header=False)
    table.add_column("key")
    table.add_column("value")
    for key in ("instanceType", "gpuModel", "gpusPerNode", "minSize", "desiredSize", "maxSize", "capacity"):
        table.add_row(key, str(pool.get(key, "")))
    return table


def _releases_table(outputs: dict[str, Any]) -> Table | None:
    releases = outputs.get("releases")
    if not releases:
        return None
    table = Table(title="Model servers", show_edge=False, title_justify="left")
    for col in ("release", "model", "replicas", "endpoint"):
        table.add_column(col)
    for name, r in sorted(releases.items()):
        table.add_row(name, r["model"], str(r["replicas"]), escape(str(r["endpoint"])))
    return table


def _cost_table(outputs: dict[str, Any]) -> Table | None:
    cost = outputs.get("cost")
    if not cost:
        return None
    table = Table(title="Cost (730 h/month)", show_edge=False, title_justify="left")
    table.add_column("currency")
    for col in ("hourly", "monthly", "monthly at max"):
        table.add_column(col, justify="right")
    for currency, totals in cost["totals"].items():
        table.add_row(currency, totals["desired"]["hourly"], totals["desired"]["monthly"], totals["max"]["monthly"])
    if cost.get("has_estimates"):
        table.caption = "includes estimated prices: gpufleet cost --lines"
    return table


def _exports_table(outputs: dict[str, Any]) -> Table:
    table = Table(title="Exports", show_edge=False, title_justify="left", show_header=False)
    table.add_column("name")
    table.add_column("value", overflow="fold")
    for key, value in sorted(outputs.items()):
        if isinstance(value, (dict, list)):
            continue  # shown in their own sections
        table.add_row(key, escape(str(value)))
    return table


def render(previews: Iterable[StackPreview], console: Console | None = None,
           extra_sections: Iterable = (), policy_summary: dict[str, str] | None = None) -> None:
    console = console or Console()
    previews = list(previews)
    for p in previews:
        if not p.ok:
            console.print(Panel(f"[red]{escape(p.error or '')}[/red]", title=f"{p.stack}: invalid config", border_style="red"))
            continue
        o = p.outputs
        title = f"{p.stack}  ·  {o.get('cloud')} {o.get('region')}  ·  jurisdiction {o.get('jurisdiction')}"
        parts = [_counts_table(p), _pool_table(o), _releases_table(o), _cost_table(o), _exports_table(o)]
        parts += [section(p) for section in extra_sections]
        console.print(Panel(Group(*[x for x in parts if x is not None]), title=title, border_style="green"))
    summary = Table(title="Preview summary", title_justify="left")
    summary.add_column("stack")
    summary.add_column("result")
    summary.add_column("resources", justify="right")
    summary.add_column("policies")
    summary.add_column("USD/month", justify="right")
    summary.add_column("seconds", justify="right")
    for p in previews:
        usd = (p.outputs.get("cost") or {}).get("totals", {}).get("USD", {}).get("desired", {}).get("monthly", "")
        summary.add_row(p.stack, "[green]ok[/green]" if p.ok else "[red]invalid[/red]", str(len(p.resources)),
                        escape((policy_summary or {}).get(p.stack, "")), usd, f"{p.seconds:.2f}")
    console.print(summary)
