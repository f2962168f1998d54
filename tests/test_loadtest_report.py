"""Reports: the JSON document and its schema, raw CSV, the self-contained HTML page, charts."""

from __future__ import annotations

import csv
import json
import re
from importlib import resources

import jsonschema
import pytest

from gpufleet.loadtest.charts import Chart, Series, cdf_points, nice_ticks, per_second
from gpufleet.loadtest.rawrun import ProcessSummary, RawRun
from gpufleet.loadtest.records import Outcome, RequestRecord
from gpufleet.loadtest.report import summary_lines
from gpufleet.loadtest.session import judge_run
from gpufleet.core.slo import SloSpec
from gpufleet.loadtest.writers import render_html, write_csv, write_json

T0 = 1_700_000_000.0
SLO = SloSpec(target_users=2, duration_s=20, warmup_s=5, ttft_p95_ms=300, tpot_p95_ms=50, min_samples=10,
              goodput_ttft_ms=300, goodput_tpot_ms=50)
SCHEMA = json.loads(resources.files("gpufleet.loadtest").joinpath("report.schema.json").read_text())


def rec(i: int, outcome: Outcome = Outcome.OK) -> RequestRecord:
    at = T0 + 1 + i * 0.5
    return RequestRecord(request_id=f"r{i}", process="local", workload="short_chat", endpoint="chat", stream=True,
                         scheduled_at=at, sent_at=at, outcome=outcome, headers_ms=3.0, ttft_ms=100.0 + i,
                         e2e_ms=500.0 + i, chunk_gaps_ms=(20.0, 21.5), prompt_tokens=80, output_tokens=3,
                         max_tokens=3, input_tokens_target=80, status=200,
                         error="" if outcome is Outcome.OK else "HTTP 500: boom")


def run(complete: bool = True) -> RawRun:
    records = [rec(i, Outcome.HTTP_ERROR if i == 20 else Outcome.OK) for i in range(48)]
    cpu = tuple((T0 + s, 0.2) for s in range(30))
    lag = tuple((T0 + s, 1.0) for s in range(30))
    return RawRun(run_id="run1", target="http://127.0.0.1:8000", model="llama", workload="short_chat",
                  mode="closed", users=2, rate=None, warmup_s=5, duration_s=20, max_in_flight=256, seed=0,
                  started_at=T0, complete=complete, incomplete_reason="" if complete else "processes not finished: w1",
                  processes=(ProcessSummary(process="local", users=2, cpu=cpu, loop_lag_ms=lag, done=True),),
                  records=tuple(records))


def test_the_json_report_is_complete_and_matches_its_schema(tmp_path):
    report = judge_run(run(), SLO, target="http://127.0.0.1:8000")
    path = tmp_path / "out" / "report.json"
    write_json(report, path)
    doc = json.loads(path.read_text())
    jsonschema.validate(doc, SCHEMA)
    assert (doc["requests"], doc["ok"], doc["errors"]) == (40, 39, 1)
    assert doc["error_rate"] == 0.025 and doc["failures"] == {"http_error": 1}
    # ok requests i = 8..47 without 20; TTFT = 100 + i; nearest rank over 39 values
    assert doc["ttft_ms"] == {"p50": 128.0, "p90": 144.0, "p95": 146.0, "p99": 147.0, "mean": 4980 / 39}
    assert doc["tpot_ms"]["p50"] == 200.0 and doc["itl_ms"]["p99"] == 21.5
    assert doc["profile"] == {"mode": "closed", "users": 2, "rate": None, "max_in_flight": None, "processes": 1,
                              "seed": 0}
    assert doc["started_at"] == "2023-11-14T22:13:20.000+00:00"
    assert doc["gate"]["verdict"] == "fail"
    assert doc["gate"]["reason"] == "objectives missed: error_rate, tpot_p95_ms, goodput"
    assert {c["name"]: c["passed"] for c in doc["gate"]["checks"]}["ttft_p95_ms"] is True
    assert doc["slo"]["ttftP95Ms"] == 300.0 and doc["harness_error"] is None


def test_an_incomplete_run_is_reported_invalid_with_the_reason():
    report = judge_run(run(complete=False), SLO, target="http://127.0.0.1:8000")
    assert report.verdict == "invalid"
    assert report.gate.reason == "harness error: processes not finished: w1"
    jsonschema.validate(report.to_dict(), SCHEMA)


def test_no_run_at_all_is_invalid_and_still_a_valid_document():
    report = judge_run(None, SLO, target="http://127.0.0.1:8000", harness_error="locust exited with code 1")
    doc = report.to_dict()
    jsonschema.validate(doc, SCHEMA)
    assert doc["gate"]["verdict"] == "invalid" and doc["requests"] is None and doc["ttft_ms"]["p95"] is None
    assert "verdict: INVALID - harness error: locust exited with code 1" in summary_lines(report)


def test_csv_has_every_raw_field_one_row_per_request(tmp_path):
    path = tmp_path / "records.csv"
    write_csv(run().records, path)
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 48
    assert rows[0]["chunk_gaps_ms"] == "20.000 21.500" and rows[0]["outcome"] == "ok"
    assert rows[0]["tpot_ms"] == "200.0" and rows[0]["schedule_delay_ms"] == "0.0"
    assert rows[20]["outcome"] == "http_error" and rows[20]["error"] == "HTTP 500: boom"
    assert rows[20]["tpot_ms"] == ""


def test_the_html_report_is_self_contained_with_charts():
    report = judge_run(run(), SLO, target="http://127.0.0.1:8000")
    html = render_html(report)
    assert html.count("<svg") == 9
    # TTFT and TPOT over time on their own axes, with the measured p95 and the SLO line, values printed
    assert 'aria-label="TTFT over time (by send time)"' in html and 'aria-label="TPOT over time (by send time)"' in html
    assert f"p95 {report.stats.ttft_ms.p95:,.1f} ms" in html and "SLO p95 300 ms" in html
    assert "UNTRUSTWORTHY" not in html and report.to_dict()["percentiles_trustworthy"] is True
    assert "<script" not in html and "<link" not in html
    urls = set(re.findall(r"https?://[^\"'<> ]+", html))
    assert urls == {"http://www.w3.org/2000/svg", "http://127.0.0.1:8000"}
    assert '<span class="verdict fail">FAIL</span>' in html
    assert "objectives missed: error_rate, tpot_p95_ms, goodput" in html
    assert "ttftP95Ms: 300.0" in html


def test_an_invalid_run_labels_its_percentiles_untrustworthy_everywhere():
    report = judge_run(run(), SLO, target="http://127.0.0.1:8000", harness_error="client saturated")
    doc = report.to_dict()
    assert doc["percentiles_trustworthy"] is False
    assert doc["trust_note"] == "UNTRUSTWORTHY percentiles: the measurement is invalid (harness error: client saturated)"
    html = render_html(report)
    assert html.count(doc["trust_note"]) == 2 and 'class="untrusted-table"' in html
    lines = summary_lines(report)
    assert lines[1] == f"!! {doc['trust_note']}" and lines[3].startswith("TTFT  ms (untrustworthy)  p50")


def test_charts_end_at_the_data():
    chart = Chart("t", "s", "y", series=[Series("a", [(0.0, 1.0), (13.0, 2.0)])]).render()
    ticks = re.findall(r'text-anchor="middle" font-size="10.5"[^>]*>([0-9.,]+)</text>', chart)
    assert ticks[-1] == "10" and "15" not in ticks  # no axis (or line) beyond the last point at 13 s
    last_point = chart.split('<polyline points="')[1].split('"')[0].split()[-1]
    assert last_point.startswith("624.0,")  # the last point sits on the right edge of the plot


def test_html_escapes_untrusted_text():
    bad = judge_run(None, SLO, target="http://127.0.0.1:8000", harness_error="<script>alert(1)</script>")
    html = render_html(bad)
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_chart_helpers():
    assert nice_ticks(70, 2000) == [0, 500, 1000, 1500, 2000]
    assert nice_ticks(0.5, 0.9) == [0.5, 0.6, 0.7, 0.8, 0.9]
    with pytest.raises(ValueError, match="^tick range must be finite$"):
        nice_ticks(0, float("inf"))
    assert cdf_points([3.0, 1.0, 2.0, 4.0]) == [(1.0, 25.0), (2.0, 50.0), (3.0, 75.0), (4.0, 100.0)]
    assert len(cdf_points([float(v) for v in range(10_000)], max_points=100)) == 101
    assert per_second([(10.2, 1.0), (10.9, 2.0), (12.5, 5.0), (9.0, 7.0)], 10.0, 13.0) == [
        (0.0, 3.0), (1.0, 0.0), (2.0, 5.0)]
    empty = Chart("Empty", "x", "y").render()
    assert "no data" in empty and empty.startswith("<svg")
    chart = Chart("T <&>", "x", "y", series=[Series("a", [(0.0, 1.0), (1.0, 2.0)])]).render()
    assert "T &lt;&amp;&gt;" in chart and "<polyline" in chart
