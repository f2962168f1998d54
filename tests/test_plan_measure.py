"""One sweep point: the point's SLO, and what a gate report becomes (invalid kinds and advice)."""

from __future__ import annotations

from typing import Any

import pytest

from gpufleet.core.config import load_stack
from gpufleet.plan.measure import GateMeasure, PointSettings, point_from_report, point_slo
from gpufleet.plan.sweep import SweepSettings, find_knee

SLO = load_stack("prod-us-east-1").slo


def test_point_slo_keeps_objectives_and_sizes_the_window():
    slo = point_slo(SLO, 2.0, PointSettings())
    assert slo.target_rate == 2.0 and slo.target_users is None
    assert (slo.ttft_p95_ms, slo.tpot_p95_ms, slo.min_goodput, slo.max_error_rate) == (800, 60, 0.95, 0.01)
    assert slo.min_output_tokens_per_s is None  # a statement about the SLO's own load, not a latency
    assert slo.duration_s == 187.5  # 300 samples x 1.25 / 2 req/s, longer than durationS 120
    assert point_slo(SLO, 40.0, PointSettings()).duration_s == 120  # durationS already holds enough
    assert point_slo(SLO, 40.0, PointSettings()).max_in_flight == 2400  # 40 req/s x 60 s timeout
    assert slo.max_client_cpu == SLO.max_client_cpu  # client validity untouched


def test_point_slo_overrides_for_short_rehearsals():
    slo = point_slo(SLO, 20.0, PointSettings(duration_s=3, warmup_s=1, min_samples=30, timeout_s=10))
    assert (slo.duration_s, slo.warmup_s, slo.min_samples, slo.max_in_flight) == (3, 1, 30, 256)


def report_doc(verdict: str, failed: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    names = ("samples", "client_cpu", "client_loop_lag_p99_ms", "schedule_delay_p99_ms", "achieved_rate_ratio")
    checks = [{"name": n, "kind": "validity", "passed": n not in failed} for n in names]
    checks += [{"name": n, "kind": "validity", "passed": False} for n in failed if n not in names]
    checks.append({"name": "ttft_p95_ms", "kind": "slo", "passed": verdict != "fail"})
    doc = {
        "gate": {"verdict": verdict, "reason": f"reason {verdict}", "checks": checks},
        "ttft_ms": {"p95": 120.0}, "tpot_ms": {"p95": 30.0}, "output_tokens_per_s": 900.0, "requests_per_s": 7.0,
        "achieved_rate": 7.1, "error_rate": 0.0, "requests": 400, "duration_s": 60.0,
        "goodput": {"share": 0.99}, "client": {"cpu_max": 0.2, "loop_lag_p99_ms": 3.0},
    }
    doc.update(extra)
    return doc


def test_point_from_a_passing_report():
    p = point_from_report(report_doc("pass"), 7.0, "ramp", 1, 12.345)
    assert (p.verdict, p.ttft_p95_ms, p.tpot_p95_ms, p.output_tokens_per_s, p.goodput, p.wall_s) == \
        ("pass", 120.0, 30.0, 900.0, 0.99, 12.35)
    assert p.invalid_kind is None and p.advice == ""


def test_saturated_client_is_invalid_with_advice_to_add_workers():
    doc = report_doc("invalid", ("client_cpu",), client={"cpu_max": 0.93, "loop_lag_p99_ms": 22.5})
    p = point_from_report(doc, 80.0, "ramp", 2, 1.0)
    assert p.invalid_kind == "client"
    assert p.advice == ("The load generator saturated or fell behind (client CPU 0.93 of a core, loop lag p99 22.5 ms): "
                        "no knee is reported from such a client: add Locust workers: --processes 3 (or more), or run "
                        "in-cluster (k8s/loadtest/).")


def test_a_starved_client_is_told_the_machine_is_busy():
    doc = report_doc("invalid", ("client_loop_lag_p99_ms",), client={"cpu_max": 0.11, "loop_lag_p99_ms": 11.6})
    p = point_from_report(doc, 34.3, "bisect", 1, 1.0)
    assert p.invalid_kind == "client"
    assert "its CPU share is low, so the machine itself is busy: rerun when it is quieter, or add Locust workers: " \
           "--processes 2" in p.advice


@pytest.mark.parametrize("failed, kind", [(("samples",), "samples"), (("schedule_delay_p99_ms",), "client"),
                                          (("harness",), "harness")])
def test_invalid_kinds(failed, kind):
    assert point_from_report(report_doc("invalid", failed), 5.0, "ramp", 1, 1.0).invalid_kind == kind


def test_invalid_client_but_clearly_over_is_a_fail():
    """Measured here: 48 req/s on a busy machine, TTFT p95 14.4 s against 800 ms, loop lag p99 43.5 ms."""
    doc = report_doc("invalid", ("client_loop_lag_p99_ms", "schedule_delay_p99_ms"), ttft_ms={"p95": 14432.4},
                     client={"cpu_max": 0.23, "loop_lag_p99_ms": 43.5}, schedule_delay_ms={"p99": 120.0},
                     slo={"ttftP95Ms": 800, "tpotP95Ms": 60})
    doc["gate"]["reason"] = "measurement not valid: client_loop_lag_p99_ms, schedule_delay_p99_ms"
    p = point_from_report(doc, 48.0, "ramp", 1, 1.0)
    assert p.verdict == "fail" and p.invalid_kind is None and p.advice == ""
    assert p.reason == ("clearly over: TTFT p95 14432 ms is 18.0x the 800 ms objective, far beyond the client's own "
                        "lateness (163.5 ms) (measurement not valid: client_loop_lag_p99_ms, schedule_delay_p99_ms)")


@pytest.mark.parametrize("ttft_p95, failed", [
    (1500.0, ("client_loop_lag_p99_ms",)),  # under 2x the objective: doubt remains
    (14432.0, ("samples",)),  # too few samples is not a client-timing doubt
    (14432.0, ("client_loop_lag_p99_ms", "harness")),
])
def test_doubtful_points_stay_invalid(ttft_p95, failed):
    doc = report_doc("invalid", failed, ttft_ms={"p95": ttft_p95}, slo={"ttftP95Ms": 800},
                     client={"cpu_max": 0.2, "loop_lag_p99_ms": 43.5}, schedule_delay_ms={"p99": 10.0})
    assert point_from_report(doc, 48.0, "ramp", 1, 1.0).verdict == "invalid"


def test_lateness_larger_than_the_miss_keeps_it_invalid():
    doc = report_doc("invalid", ("client_loop_lag_p99_ms",), ttft_ms={"p95": 2000.0}, slo={"ttftP95Ms": 800},
                     client={"cpu_max": 0.9, "loop_lag_p99_ms": 150.0}, schedule_delay_ms={"p99": 0.0})
    assert point_from_report(doc, 48.0, "ramp", 1, 1.0).verdict == "invalid"  # 1200 ms over < 10 x 150 ms


class FakeReport:
    def __init__(self, doc):
        self.doc = doc

    def to_dict(self):
        return self.doc


def test_gate_measure_with_a_saturating_client_never_yields_a_knee():
    """The load generator saturates above 30 req/s while the 'server' would pass up to 50."""
    calls: list[dict[str, Any]] = []

    def runner(url, model, slo, **kwargs):
        calls.append({"rate": slo.target_rate, **kwargs})
        if slo.target_rate > 30:
            return FakeReport(report_doc("invalid", ("client_cpu",), client={"cpu_max": 0.9, "loop_lag_p99_ms": 40}))
        return FakeReport(report_doc("pass" if slo.target_rate <= 50 else "fail"))

    measure = GateMeasure("http://127.0.0.1:1", "m", SLO, PointSettings(duration_s=5, min_samples=10), runner=runner)
    result = find_knee(measure, SweepSettings(start_rps=10, max_rps=200, min_rps=1))
    assert result.outcome == "invalid" and result.knee is None
    assert [c["rate"] for c in calls] == [10, 20, 40]
    assert "--processes 2" in result.message
    assert calls[0]["processes"] == 1 and calls[0]["timeout_s"] == 60.0
    assert len(measure.reports) == 3
