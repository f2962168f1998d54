"""The scaling rehearsal as people read it: its decisions checked, and a chart of the timeline."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from gpufleet.core.autoscaling import ScalingPlan
from gpufleet.loadtest.charts import PALETTE, Chart, Rule, Series
from gpufleet.scalesim.runner import Timeline


@dataclass(frozen=True)
class Findings:
    """What the timeline shows about the autoscaler's decisions (seconds are real, compressed time)."""

    first_over_s: float | None  # first sync where the queue per replica exceeded its target
    first_up_s: float | None  # first sync with more replicas than the minimum
    peak_replicas: int
    last_high_s: float | None  # last sync whose proposal reached the peak
    first_down_s: float | None  # first decrease after the peak
    down_gaps_s: tuple[float, ...]  # time between successive decreases
    direction_changes: int  # up->down or down->up switches (flapping shows as more than one)


def proposal(plan: ScalingPlan, values: dict[str, float]) -> int:
    """The replicas the queue and KV-cache triggers alone ask for (ceil(value / threshold))."""
    asks = [math.ceil(values[k] / t - 1e-9) for k, t in (("queue", plan.queue_per_replica),
                                                         ("kv_cache", plan.kv_cache_usage)) if k in values]
    return max(asks, default=0)


def findings(plan: ScalingPlan, tl: Timeline) -> Findings:
    rows = list(zip(tl.t, tl.replicas, tl.values))
    before = [plan.min_replicas, *tl.replicas[:-1]]  # the replicas each decision started from
    over = [t for (t, _, v), r in zip(rows, before) if "queue" in v and v["queue"] > plan.queue_per_replica * r * 1.1]
    ups = [t for t, r, _ in rows if r > plan.min_replicas]
    peak = max(tl.replicas)
    at_peak = [i for i, r in enumerate(tl.replicas) if r == peak]
    high = [t for t, _, v in rows if v and proposal(plan, v) >= peak]
    downs = [tl.t[i] for i in range(1, len(rows)) if tl.replicas[i] < tl.replicas[i - 1] and i > at_peak[0]]
    steps = [b - a for a, b in zip(tl.replicas, tl.replicas[1:]) if b != a]
    changes = sum(1 for a, b in zip(steps, steps[1:]) if (a > 0) != (b > 0))
    return Findings(over[0] if over else None, ups[0] if ups else None, peak, high[-1] if high else None,
                    downs[0] if downs else None, tuple(round(b - a, 3) for a, b in zip(downs, downs[1:])), changes)


def timeline_chart(plan: ScalingPlan, tl: Timeline) -> str:
    queue_per = [(t, v["queue"] / max(r, 1)) for t, r, v in zip(tl.t, tl.replicas, tl.values) if "queue" in v]
    chart = Chart(
        title=f"{plan.deployment}: replicas under a ramp (time compressed)", x_label="seconds", y_label="count",
        series=[Series("desired replicas", list(zip(tl.t, tl.replicas)), PALETTE[0]),
                Series("ready replicas", list(zip(tl.t, tl.ready)), PALETTE[1]),
                Series("offered requests/s", list(zip(tl.t, tl.offered_rps)), PALETTE[2]),
                Series("waiting requests per replica", queue_per, PALETTE[3], style="dots")],
        rules=[Rule(plan.queue_per_replica, "queue target per replica", vertical=False),
               Rule(plan.max_replicas, "maxReplicaCount", vertical=False, color="#b91c1c")])
    return chart.render()


def html_report(plan: ScalingPlan, tl: Timeline, found: Findings, factor: float) -> str:
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in (
        ("queue over target first", found.first_over_s), ("first scale-up", found.first_up_s),
        ("peak replicas", found.peak_replicas), ("last proposal at peak", found.last_high_s),
        ("first scale-down", found.first_down_s), ("gaps between scale-downs (s)", list(found.down_gaps_s)),
        ("direction changes", found.direction_changes), ("time compression", f"{factor:g}x"),
        ("HPA errors held (fallback)", len(tl.errors))))
    return ("<!doctype html><html><head><meta charset='utf-8'><title>gpufleet scaling rehearsal</title>"
            "<style>body{font-family:Helvetica,Arial,sans-serif;max-width:900px;margin:2em auto;color:#111827}"
            "th{text-align:left;padding-right:1em}</style></head><body>"
            f"<h1>Scaling rehearsal: {escape(plan.release)}</h1>"
            "<p>Simulated replicas behind a real Prometheus; the HPA algorithm with the ScaledObject's behavior "
            "decides. A rehearsal of the decisions, not of a cluster's capacity.</p>"
            f"{timeline_chart(plan, tl)}<table>{rows}</table></body></html>")
