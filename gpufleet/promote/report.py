"""`promote --html`: one self-contained page per promotion, every analysed metric over its time line.

For each metric the page asks Prometheus for the candidate's and the
baseline's series over the whole promotion (the same PromQL the analysis
used, with the analysis interval as rate window), and marks on it the steps
(weights applied), faults switched on in a rehearsal, rollbacks, each
iteration's verdict and the bound it was held to. Tables come from the audit
log, like the printed summary. Inline SVG, no JavaScript, no CDN: it must
still open, offline, when attached to a change ticket years later.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from gpufleet.core.promotion_config import PromotionConfig
from gpufleet.loadtest.charts import Chart, Rule, Series
from gpufleet.promote import queries
from gpufleet.promote.prometheus import PrometheusClient, PrometheusError
from gpufleet.promote.summary import COLUMNS, rows

TEMPLATE = "report.html.jinja"
CHARTED = (queries.REQUEST_RATE, *queries.CHECKED)
CANDIDATE, BASELINE, PASSED, FAILED, BOUND = "#2563eb", "#6b7280", "#16a34a", "#dc2626", "#d97706"


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def markers(events: Sequence[Mapping[str, Any]], t0: float, merge_within_s: float = 0.0) -> list[Rule]:
    """Vertical rules (short labels; the page lists them in full): start, the gate, each step's share once
    applied, rehearsal faults, rollbacks.

    Rules closer than `merge_within_s` become one (labels joined), so their labels do not overprint.
    """
    rules: list[Rule] = []
    for e in events:
        x = _ts(e["ts"]) - t0
        if e["event"] == "plan":
            rules.append(Rule(x, "start", color="#9ca3af"))
        elif e["event"] == "check" and e.get("phase") == "gate":
            rules.append(Rule(x, "gate" if e["verdict"] == "pass" else f"gate {e['verdict']}", color="#9ca3af"))
        elif e["event"] == "applied":
            share = (e.get("weights_after") or {}).get(e["candidate"])
            rules.append(Rule(x, f"{share}%", color="#374151"))
        elif e["event"] == "fault":
            rules.append(Rule(x, "fault", color=BOUND))
        elif e["event"] == "rollback" and e.get("ok"):
            rules.append(Rule(x, "rollback", color=FAILED))
    merged: list[Rule] = []
    for rule in rules:
        if merged and rule.value - merged[-1].value < merge_within_s:
            last = merged[-1]
            color = rule.color if rule.color in (FAILED, BOUND) else last.color
            merged[-1] = Rule(last.value, f"{last.label}, {rule.label}", color=color)
        else:
            merged.append(rule)
    return merged


def _iteration_series(events: Sequence[Mapping[str, Any]], name: str, t0: float) -> list[Series]:
    ok, bad, bound = [], [], []
    for e in events:
        if e["event"] != "analysis" or "at" not in e:
            continue
        x = e["at"] - t0
        check = next((c for c in e.get("checks") or [] if c["name"] == name), None)
        if name == "request_rate":
            value = e.get("request_rate")
            verdict = e.get("verdict")
        else:
            value = check.get("value") if check else None
            verdict = check.get("verdict") if check else None
            if check and check.get("bound") is not None:
                bound.append((x, check["bound"]))
        if value is not None and value != float("inf"):
            (ok if verdict == "pass" else bad).append((x, value))
    return [Series("bound", bound, BOUND, "dots"), Series("iteration passed", ok, PASSED, "dots"),
            Series("iteration not passed", bad, FAILED, "crosses")]


def metric_chart(metric: queries.MetricQuery, events: Sequence[Mapping[str, Any]], client: PrometheusClient | None,
                 config: PromotionConfig, span: tuple[float, float], releases: tuple[str, str]) -> tuple[str, str]:
    """(SVG, error text) of one metric; the error is empty when Prometheus answered."""
    t0, t1 = span
    step = max(1.0, round((t1 - t0) / 240.0))
    series, error = [], ""
    for release, color in zip(releases, (CANDIDATE, BASELINE)):
        points: list[tuple[float, float]] = []
        if client is not None:
            try:
                expr = metric.expr(config.selector(release), config.interval_s)
                points = [(t - t0, v) for t, v in client.query_range(expr, t0, t1, step) if v != float("inf")]
            except PrometheusError as exc:
                error = str(exc)
        series.append(Series(release, points, color, "line"))
    chart = Chart(f"{metric.label} ({metric.unit})", "seconds since the promotion started", metric.unit,
                  series=[*series, *_iteration_series(events, metric.name, t0)],
                  rules=markers(events, t0, merge_within_s=0.04 * (t1 - t0)))
    return chart.render(), error


def render(events: Sequence[Mapping[str, Any]], client: PrometheusClient | None, config: PromotionConfig) -> str:
    plan = next(e for e in events if e["event"] == "plan")
    finished = next((e for e in events if e["event"] == "finished"), events[-1])
    t0, t1 = _ts(plan["ts"]), max(_ts(finished["ts"]), _ts(plan["ts"]) + 1.0)
    candidate = plan["candidate"]
    baseline = next((e["baseline"] for e in events if e.get("baseline")), None) or max(
        (n for n in plan["weights_before"] if n != candidate), key=lambda n: plan["weights_before"][n])
    charts = [(m, *metric_chart(m, events, client, config, (t0, t1), (candidate, baseline))) for m in CHARTED]
    env = Environment(loader=FileSystemLoader(Path(__file__).parent), autoescape=select_autoescape(["html", "jinja"]))
    return env.get_template(TEMPLATE).render(
        plan=plan, finished=finished, candidate=candidate, baseline=baseline, charts=charts, config=config,
        header=["step", "share", "iter", "verdict", "requests", *(title for _, title, _ in COLUMNS)],
        rows=rows(events), events=[e for e in events if e["event"] not in ("analysis",)], t0=t0, ts=_ts,
        analyses=[e for e in events if e["event"] == "analysis"], source=client.where if client else "none",
    )


def write_report(path: Path, events: Sequence[Mapping[str, Any]], client: PrometheusClient | None,
                 config: PromotionConfig) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(events, client, config), encoding="utf-8")
