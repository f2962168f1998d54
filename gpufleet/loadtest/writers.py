"""Write a report as JSON (the gate's record), CSV (raw records) or HTML (for humans).

The HTML page is self-contained: inline CSS and inline SVG charts, no
scripts and no external resources, so it can be attached to a change
request and still render offline.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import yaml
from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from gpufleet.loadtest.charts import PALETTE, Band, Chart, Rule, Series, cdf_points, per_second
from gpufleet.loadtest.records import FIELDS, RequestRecord
from gpufleet.loadtest.report import LoadTestReport


def _write_text(text: str, path: Path | str) -> None:
    if str(path) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def write_json(report: LoadTestReport, path: Path | str) -> None:
    """The report document; `-` writes to stdout."""
    _write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n", path)


def csv_row(record: RequestRecord) -> list[object]:
    row = record.to_row()
    row[FIELDS.index("chunk_gaps_ms")] = " ".join(f"{g:.3f}" for g in record.chunk_gaps_ms)
    return ["" if value is None else value for value in row] + [
        "" if (tpot := record.tpot_ms) is None else tpot,
        record.schedule_delay_ms,
    ]


def write_csv(records: Iterable[RequestRecord], path: Path | str) -> None:
    """One row per request, every raw field (chunk gaps space-separated), plus TPOT and schedule delay."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*FIELDS, "tpot_ms", "schedule_delay_ms"])
        for record in records:
            writer.writerow(csv_row(record))


def charts(report: LoadTestReport) -> dict[str, Markup]:
    """The report's charts as SVG markup, keyed by name."""
    run, stats = report.run, report.stats
    if run is None or stats is None:
        return {}
    start, (window_start, window_end) = run.started_at, run.window
    ok = [r for r in run.records if r.ok]
    failed = [r for r in run.records if r.failed]
    result: dict[str, Markup] = {}
    slo = report.slo
    for key, title, dist, threshold in (
        ("ttft_cdf", "TTFT distribution (measured window)", stats.ttft_ms, slo.ttft_p95_ms),
        ("tpot_cdf", "TPOT distribution (measured window)", stats.tpot_ms, slo.tpot_p95_ms),
        ("itl_cdf", "ITL distribution (measured window)", stats.itl_ms, slo.itl_p95_ms),
        ("e2e_cdf", "End-to-end latency distribution (measured window)", stats.e2e_ms, slo.e2e_p95_ms),
    ):
        values = _window_values(ok, window_start, window_end, key)
        chart = Chart(title, "milliseconds", "% of requests at or below", rules=_p95_rules(dist.p95, threshold))
        chart.series.append(Series("requests" if key != "itl_cdf" else "chunk gaps", cdf_points(values)))
        result[key] = Markup(chart.render())
    warmup = [Band(0.0, window_start - start, "warm-up")] if window_start > start else []
    for key, title, dist, threshold, value in (
        ("ttft_over_time", "TTFT over time", stats.ttft_ms, slo.ttft_p95_ms, lambda r: r.ttft_ms),
        ("tpot_over_time", "TPOT over time", stats.tpot_ms, slo.tpot_p95_ms, lambda r: r.tpot_ms),
        ("e2e_over_time", "End-to-end latency over time", stats.e2e_ms, slo.e2e_p95_ms, lambda r: r.e2e_ms),
    ):
        points = [(r.sent_at - start, v) for r in ok if (v := value(r)) is not None]
        chart = Chart(f"{title} (by send time)", "seconds since start", "milliseconds", bands=list(warmup),
                      rules=_p95_rules(dist.p95, threshold, vertical=False))
        chart.series.append(Series(title.split(" ")[0], points, PALETTE[0], "dots"))
        top = max((v for _, v in points), default=1.0)
        chart.series.append(Series("failed (at top)", [(r.sent_at - start, top) for r in failed], PALETTE[4],
                                   "crosses"))
        result[key] = Markup(chart.render())
    # Per-second charts end at the last whole second that has data: a partial last second would read as a drop.
    end = max((r.sent_at + (r.e2e_ms or 0) / 1000 for r in run.records), default=window_end)
    end = start + max(1.0, float(int(end - start)))
    tokens = Chart("Output tokens per second (by completion time)", "seconds since start", "tokens/s", bands=warmup)
    tokens.series.append(Series("output tokens/s", per_second(
        [(r.sent_at + (r.e2e_ms or 0) / 1000, float(r.output_tokens or 0)) for r in ok], start, end), PALETTE[1]))
    result["throughput"] = Markup(tokens.render())
    rates = Chart("Requests per second", "seconds since start", "requests/s", bands=warmup)
    rates.series.append(Series("sent", per_second([(r.sent_at, 1.0) for r in run.records], start, end), PALETTE[0]))
    rates.series.append(Series("succeeded", per_second(
        [(r.sent_at + (r.e2e_ms or 0) / 1000, 1.0) for r in ok], start, end), PALETTE[1]))
    rates.series.append(Series("failed", per_second(
        [(r.sent_at + (r.e2e_ms or 0) / 1000, 1.0) for r in failed], start, end), PALETTE[4]))
    result["request_rate"] = Markup(rates.render())
    return result


def _p95_rules(p95: float | None, slo: float | None, *, vertical: bool = True) -> list[Rule]:
    """The measured p95 and the SLO's p95 objective, each labelled with its value."""
    rules = [Rule(p95, f"p95 {p95:,.1f} ms", vertical=vertical, color="#111827")] if p95 is not None else []
    if slo is not None:
        rules.append(Rule(slo, f"SLO p95 {slo:,.0f} ms", vertical=vertical, color="#dc2626"))
    return rules


def _window_values(ok: list[RequestRecord], start: float, end: float, key: str) -> list[float]:
    inside = [r for r in ok if start <= r.scheduled_at < end]
    if key == "ttft_cdf":
        return [r.ttft_ms for r in inside if r.ttft_ms is not None]
    if key == "tpot_cdf":
        return [t for r in inside if (t := r.tpot_ms) is not None]
    if key == "itl_cdf":
        return [g for r in inside for g in r.chunk_gaps_ms]
    return [r.e2e_ms for r in inside if r.e2e_ms is not None]


def render_html(report: LoadTestReport) -> str:
    # The template sits next to this module so the package-data pattern ships it in a wheel.
    source = resources.files("gpufleet.loadtest").joinpath("report.html.jinja").read_text(encoding="utf-8")
    template = Environment(autoescape=True, undefined=StrictUndefined).from_string(source)
    doc = report.to_dict()
    return template.render(
        doc=doc,
        charts=charts(report),
        slo_yaml=yaml.safe_dump({"gpufleet:slo": {k: v for k, v in doc["slo"].items() if v is not None}},
                                sort_keys=False, allow_unicode=True),
        metrics=[("TTFT", "ttft_ms"), ("ITL", "itl_ms"), ("TPOT", "tpot_ms"), ("End-to-end", "e2e_ms"),
                 ("Schedule delay", "schedule_delay_ms")],
    )


def write_html(report: LoadTestReport, path: Path | str) -> None:
    _write_text(render_html(report), path)
