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


def _registry_table(outputs: dict[str, Any]) -> Table | None:
    """Registry edition and billing; a prepaid subscription says that destroy does not refund it."""
    registry = outputs.get("registry")
    if not registry:
        return None
    table = Table(title="Registry", show_edge=False, title_justify="left", show_header=False)
    table.add_column("key")
    table.add_column("value", overflow="fold")
    for key in ("service", "edition", "billing", "payAsYouGo"):
        if registry.get(key):
            table.add_row(key, escape(str(registry[key])))
    if registry.get("warning"):
        table.add_row("[yellow]warning[/yellow]", f"[yellow]{escape(registry['warning'])}[/yellow]")
    return table


def _phases_table(preview: StackPreview) -> Table:
    table = Table(title="Phases (one Pulumi stack each, run in this order)", show_edge=False, title_justify="left")
    for col in ("phase", "project", "resources", "result"):
        table.add_column(col)
    for ph in preview.phases:
        table.add_row(ph.phase, ph.project, str(ph.resources), "ok" if ph.ok else escape(ph.error or "invalid"))
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
    console = console or Console(emoji=False)  # ARNs like acs:ram:... are not emoji codes
    previews = list(previews)
    for p in previews:
        if not p.ok:
            console.print(Panel(f"[red]{escape(p.error or '')}[/red]", title=f"{p.stack}: invalid config", border_style="red"))
            continue
        o = p.outputs
        title = f"{p.stack}  ·  {o.get('cloud')} {o.get('region')}  ·  jurisdiction {o.get('jurisdiction')}"
        parts = [_phases_table(p), _counts_table(p), _pool_table(o), _releases_table(o), _cost_table(o),
                 _registry_table(o), _exports_table(o)]
        parts += [section(p) for section in extra_sections]
        console.print(Panel(Group(*[x for x in parts if x is not None]), title=title, border_style="green"))
    summary = Table(title="Preview summary", title_justify="left")
    summary.add_column("stack")
    summary.add_column("phase")
    summary.add_column("result")
    summary.add_column("resources", justify="right")
    summary.add_column("policies")
    summary.add_column("USD/month", justify="right")
    summary.add_column("seconds", justify="right")
    for p in previews:
        usd = (p.outputs.get("cost") or {}).get("totals", {}).get("USD", {}).get("desired", {}).get("monthly", "")
        rows = [(ph.phase, ph.ok, ph.resources) for ph in p.phases] or [("", p.ok, len(p.resources))]
        for i, (phase, ok, count) in enumerate(rows):
            first = i == 0
            summary.add_row(p.stack if first else "", phase, "[green]ok[/green]" if ok else "[red]invalid[/red]",
                            str(count), escape((policy_summary or {}).get(p.stack, "")) if first else "",
                            usd if first else "", f"{p.seconds:.2f}" if first else "")
    console.print(summary)
