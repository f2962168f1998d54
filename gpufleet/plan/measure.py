"""One sweep point: the stack's SLO at one open-loop rate, through the load-test gate.

The point's SLO is the stack's objectives at that rate, with three changes a
sweep needs and nothing else:

* `minOutputTokensPerS` is dropped: it states what the SLO's own target load
  must produce, so it would fail every low rate of a ramp; the throughput at
  the knee is reported instead;
* the window is stretched so the expected arrivals reach `minSamples` with a
  margin (a Poisson count falls short of its mean half the time);
* the in-flight cap is raised to `rate x request timeout`, so an overloaded
  server shows as slow (fail) rather than as a client that cannot keep its
  schedule (invalid). The client's own health limits are untouched: a
  saturated client still makes the point invalid, unless the point is clearly
  over its objectives by far more than the client's lateness could explain
  (`clearly_over`): then it is a fail, which bounds the knee from above but is
  never the knee.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gpufleet.core.slo import SloSpec
from gpufleet.plan.sweep import FAIL, INVALID, Point

SAMPLE_MARGIN = 1.25
CLEARLY_OVER, DOUBT_MARGIN = 2.0, 10.0
CLIENT_CHECKS = frozenset({"client_cpu", "client_loop_lag_p99_ms", "schedule_delay_p99_ms", "achieved_rate_ratio"})


@dataclass(frozen=True)
class PointSettings:
    """How long each point runs and how the load generator is set up."""

    duration_s: float | None = None  # measured window (default: the SLO's durationS)
    warmup_s: float | None = None  # default: the SLO's warmupS
    min_samples: int | None = None  # default: the SLO's minSamples
    processes: int = 1
    timeout_s: float = 60.0
    stall_timeout_s: float = 30.0


def point_slo(slo: SloSpec, rate: float, settings: PointSettings) -> SloSpec:
    """The stack's objectives at `rate`, sized for minSamples (see the module docstring)."""
    data = slo.model_dump()
    min_samples = settings.min_samples or slo.min_samples
    base = settings.duration_s if settings.duration_s is not None else slo.duration_s
    duration = max(base, math.ceil(10 * SAMPLE_MARGIN * min_samples / rate) / 10)
    data.update(
        target_rate=rate, target_users=None, min_output_tokens_per_s=None, min_samples=min_samples,
        duration_s=duration, warmup_s=settings.warmup_s if settings.warmup_s is not None else slo.warmup_s,
        max_in_flight=max(slo.max_in_flight, math.ceil(rate * settings.timeout_s)),
    )
    return SloSpec.model_validate(data)


def _check(doc: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((c for c in doc["gate"]["checks"] if c["name"] == name), None)


def _failed_validity(doc: dict[str, Any]) -> set[str]:
    return {c["name"] for c in doc["gate"]["checks"] if c["kind"] == "validity" and not c["passed"]}


def _invalid_kind(doc: dict[str, Any]) -> str:
    failed = _failed_validity(doc)
    if not failed or failed - CLIENT_CHECKS - {"samples"}:
        return "harness"
    return "client" if failed & CLIENT_CHECKS else "samples"


def _client_cpu_limit(doc: dict[str, Any]) -> float:
    check = _check(doc, "client_cpu")
    return float(check["threshold"]) if check and isinstance(check.get("threshold"), (int, float)) else 0.6


def advice_for(kind: str, doc: dict[str, Any], processes: int) -> str:
    """What to change so the point can be measured."""
    if kind == "client":
        client = doc.get("client") or {}
        cpu, lag = client.get("cpu_max"), client.get("loop_lag_p99_ms")
        seen = f" (client CPU {cpu:.2f} of a core, loop lag p99 {lag:.1f} ms)" if cpu is not None and lag else ""
        busy = ("; its CPU share is low, so the machine itself is busy: rerun when it is quieter, or"
                if cpu is not None and cpu < _client_cpu_limit(doc) else ":")
        return (f"The load generator saturated or fell behind{seen}: no knee is reported from such a client{busy} "
                f"add Locust workers: --processes {processes + 1} (or more), or run in-cluster (k8s/loadtest/).")
    if kind == "samples":
        return "Too few requests in the window: lengthen --point-duration or lower --min-samples."
    return "The harness failed; see the reason above and the load-test docs (docs/loadtest.md)."


def clearly_over(doc: dict[str, Any]) -> str | None:
    """Why a point is over its SLO beyond any doubt the client's lateness could cast, or None.

    A client that fell behind reads every chunk up to its loop lag late and sends up to its
    schedule delay late; a p95 at least CLEARLY_OVER x its objective, missed by more than
    DOUBT_MARGIN x that lateness, is a failure of the server whatever the client did.
    """
    slo, client = doc.get("slo") or {}, doc.get("client") or {}
    doubt = (client.get("loop_lag_p99_ms") or 0.0) + ((doc.get("schedule_delay_ms") or {}).get("p99") or 0.0)
    for label, key, objective_key in (("TTFT", "ttft_ms", "ttftP95Ms"), ("TPOT", "tpot_ms", "tpotP95Ms")):
        objective, observed = slo.get(objective_key), (doc.get(key) or {}).get("p95")
        if objective and observed and observed >= CLEARLY_OVER * objective \
                and observed - objective >= DOUBT_MARGIN * doubt:
            return (f"clearly over: {label} p95 {observed:.0f} ms is {observed / objective:.1f}x the {objective:g} ms "
                    f"objective, far beyond the client's own lateness ({doubt:.1f} ms)")
    return None


def point_from_report(doc: dict[str, Any], rate: float, phase: str, processes: int, wall_s: float) -> Point:
    """The figures a sweep keeps from one load-test report document (`LoadTestReport.to_dict()`).

    A point invalid only through the client's timing but clearly over its objectives is a
    `fail`: it can bound the knee from above, never be the knee (only a valid `pass` is).
    """
    verdict, reason = doc["gate"]["verdict"], doc["gate"]["reason"]
    client = doc.get("client") or {}
    goodput = doc.get("goodput") or {}
    kind = _invalid_kind(doc) if verdict == INVALID else None
    over = clearly_over(doc) if kind == "client" and _failed_validity(doc) <= CLIENT_CHECKS else None
    if over:
        verdict, reason, kind = FAIL, f"{over} ({reason})", None
    return Point(
        rate=rate, verdict=verdict, reason=reason, phase=phase,
        achieved_rate=doc.get("achieved_rate"), ttft_p95_ms=doc["ttft_ms"].get("p95"),
        tpot_p95_ms=doc["tpot_ms"].get("p95"), output_tokens_per_s=doc.get("output_tokens_per_s"),
        requests_per_s=doc.get("requests_per_s"), goodput=goodput.get("share"), error_rate=doc.get("error_rate"),
        samples=doc.get("requests"), client_cpu=client.get("cpu_max"), invalid_kind=kind,
        advice=advice_for(kind, doc, processes) if kind else "", duration_s=doc.get("duration_s"),
        wall_s=round(wall_s, 2),
    )


Runner = Callable[..., Any]  # run_gate's signature; injectable for tests


class GateMeasure:
    """Measure a point with `run_gate` against one replica at `url`."""

    def __init__(self, url: str, model: str | None, slo: SloSpec, settings: PointSettings, *,
                 allow_remote: bool = False, on_point: Callable[[Point], None] | None = None,
                 runner: Runner | None = None) -> None:
        self.url, self.model, self.slo, self.settings = url, model, slo, settings
        self.allow_remote = allow_remote
        self.on_point = on_point
        self.reports: list[dict[str, Any]] = []
        if runner is None:
            from gpufleet.loadtest.session import run_gate as runner
        self.runner = runner

    def __call__(self, rate: float, phase: str) -> Point:
        slo = point_slo(self.slo, rate, self.settings)
        started = time.monotonic()
        report = self.runner(self.url, self.model, slo, processes=self.settings.processes,
                             allow_remote=self.allow_remote, timeout_s=self.settings.timeout_s,
                             stall_timeout_s=self.settings.stall_timeout_s)
        doc = report.to_dict()
        self.reports.append(doc)
        point = point_from_report(doc, rate, phase, self.settings.processes, time.monotonic() - started)
        if self.on_point is not None:
            self.on_point(point)
        return point
