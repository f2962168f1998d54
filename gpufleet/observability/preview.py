"""The observability part of `gpufleet preview`: what each stack scrapes, its dashboards, its alert
rules, and `promtool check rules` on them, all read from what the program registered.

One line "promtool not installed ..." when the binary is missing; the preview goes on.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from rich.console import Group
from rich.markup import escape
from rich.table import Table

from gpufleet.core.slo_rules import rules_file_text
from gpufleet.observability.promtool import NOT_INSTALLED, check_rules, promtool_path

HELM_TARGETS = {
    "dcgm-exporter": "dcgm-exporter: GPU util, memory, power, XID (GPU nodes)",
    "kube-prometheus-stack": "kube-state-metrics, node-exporter, kubelet (kube-prometheus-stack)",
    "metrics-server": "metrics-server: resource metrics API (HPA CPU, kubectl top)",
}


def _of_kind(preview: Any, kind: str) -> list[dict[str, Any]]:
    return [r.inputs for r in preview.resources if r.inputs.get("kind") == kind]


def _chart_name(chart: str) -> str:
    return chart.rsplit("/", 1)[-1]


@lru_cache(maxsize=64)
def _promtool_line(rules_text: str) -> str:
    if promtool_path() is None:
        return NOT_INSTALLED
    result = check_rules(rules_text)
    return f"promtool check rules: {result.line}" if result.ok else f"promtool check rules FAILED: {result.line}"


def observability_json(preview: Any) -> dict[str, Any]:
    """Scrape targets, dashboards, rules and the promtool result of one previewed stack."""
    if not preview.ok:
        return {}
    targets = [f"PodMonitor {m['metadata']['namespace']}/{m['metadata']['name']}" for m in _of_kind(preview, "PodMonitor")]
    targets += [HELM_TARGETS[_chart_name(r.inputs.get("chart", ""))] for r in preview.resources
                if r.type == "kubernetes:helm.sh/v3:Release" and _chart_name(r.inputs.get("chart", "")) in HELM_TARGETS]
    dashboards = sorted(key for cm in _of_kind(preview, "ConfigMap")
                        if (cm["metadata"].get("labels") or {}).get("grafana_dashboard") == "1" for key in cm["data"])
    groups = [g for rule in _of_kind(preview, "PrometheusRule") for g in rule["spec"]["groups"]]
    alerts = [{"alert": r["alert"], "severity": r["labels"].get("severity", ""), "for": r.get("for", "0s"),
               "expr": r["expr"]} for g in groups for r in g["rules"] if "alert" in r]
    records = sorted({r["record"] for g in groups for r in g["rules"] if "record" in r})
    return {"scrapeTargets": targets, "dashboards": dashboards, "alerts": alerts, "recordingRules": records,
            "promtool": _promtool_line(rules_file_text(groups)) if groups else "no rules"}


def observability_section(preview: Any) -> Any:
    """An `extra_sections` entry for gpufleet.preview.summary.render."""
    doc = observability_json(preview)
    if not doc:
        return None
    targets = Table(title="Scrape targets", show_edge=False, title_justify="left", show_header=False)
    targets.add_column("target")
    for t in doc["scrapeTargets"]:
        targets.add_row(escape(t))
    alerts = Table(title=f"Alert rules ({len(doc['recordingRules'])} recording rules behind them)",
                   show_edge=False, title_justify="left")
    for col in ("alert", "severity", "for"):
        alerts.add_column(col)
    for a in doc["alerts"]:
        alerts.add_row(a["alert"], a["severity"], a["for"])
    colour = "green" if "SUCCESS" in doc["promtool"] else "yellow"
    alerts.caption = f"[{colour}]{escape(doc['promtool'])}[/{colour}]"
    dashboards = Table(title="Grafana dashboards", show_edge=False, title_justify="left", show_header=False)
    dashboards.add_column("file")
    for d in doc["dashboards"]:
        dashboards.add_row(d)
    return Group(targets, dashboards, alerts)
