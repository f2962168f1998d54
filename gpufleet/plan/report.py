"""The plan as a JSON document and as one self-contained HTML page.

The page is for two readers: the SRE reads the curves (TTFT and TPOT p95
against the offered rate with the SLO lines and the knee, throughput against
rate), finance reads the bottom line (monthly cost at average and peak, cost
per 1M output tokens). Inline CSS and SVG only, like the load-test report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from gpufleet.core.slo import SloSpec
from gpufleet.loadtest.charts import PALETTE, Chart, Rule, Series
from gpufleet.plan.planner import Demand, StackPlan
from gpufleet.plan.sweep import FAIL, INVALID, PASS, SweepResult

SCHEMA = "gpufleet.plan/v1"
VERDICT_COLORS = {PASS: "#16a34a", FAIL: "#dc2626", INVALID: "#a16207"}


@dataclass(frozen=True)
class PlanContext:
    """What was planned and how it was measured (for the record)."""

    stack: str
    release: str
    model: str
    gpu: str
    target: dict[str, Any]  # kind, url, profile, rehearsal, replicas_behind
    slo: SloSpec
    demand: Demand
    knee_rps_per_replica: float | None


def plan_document(ctx: PlanContext, sweep: SweepResult, plan: StackPlan | None, *, refused: str | None = None,
                  written: bool = False) -> dict[str, Any]:
    knee = sweep.knee
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "stack": ctx.stack,
        "release": ctx.release,
        "model": ctx.model,
        "gpu": ctx.gpu,
        "target": ctx.target,
        "slo": ctx.slo.model_dump(by_alias=True, mode="json", exclude_none=True),
        "demand": {"peak_rps": ctx.demand.peak_rps, "avg_rps": ctx.demand.avg_rps,
                   "headroom": ctx.demand.headroom, "redundancy": ctx.demand.redundancy},
        "sweep": sweep.to_dict(),
        "knee": None if knee is None else {
            "measured_rps": knee.rate, "rps_per_replica": ctx.knee_rps_per_replica,
            "output_tokens_per_s": knee.output_tokens_per_s, "ttft_p95_ms": knee.ttft_p95_ms,
            "tpot_p95_ms": knee.tpot_p95_ms, "lower_bound": sweep.outcome != "knee",
        },
        "fleet": None, "limits": None, "stack_changes": [], "cost": None,
        "refused": refused, "written": written,
    }
    if plan is not None:
        doc["fleet"] = plan.fleet.to_dict()
        doc["limits"] = {
            "gpu_pool": {"minSize": plan.fleet.pool_min, "desiredSize": plan.fleet.pool_desired,
                         "maxSize": plan.fleet.pool_max, "instance_type": plan.cfg.gpu_pool.instance_type},
            "release": {"replicas": plan.fleet.replicas, "minReplicas": plan.fleet.min_replicas,
                        "maxReplicas": plan.fleet.max_replicas},
            "karpenter_nodepool_limits": {"nvidia.com/gpu": plan.fleet.karpenter_gpu_limit},
            "cloud_pool_ceiling": {"pool": plan.limit.pool, "max_nodes": plan.limit.max_nodes,
                                   "why": plan.limit.why, "source": plan.limit.source},
        }
        doc["stack_changes"] = stack_changes(plan)
        doc["cost"] = plan.cost.to_dict()
    return doc


def stack_changes(plan: StackPlan) -> list[dict[str, Any]]:
    current = {"gpufleet:gpuPool": plan.cfg.gpu_pool.model_dump(by_alias=True)}
    release = plan.cfg.releases[plan.release]
    current_release = {"replicas": release.replicas, "minReplicas": release.effective_min_replicas,
                       "maxReplicas": release.effective_max_replicas}
    rows = []
    for change in plan.changes:
        leaf = change.path[-1]
        before = current_release.get(leaf) if change.path[0] == "gpufleet:releases" else current[change.path[0]].get(leaf)
        rows.append({"key": change.key, "from": before, "to": change.value})
    return rows


def write_json(doc: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")


def _series(points: list[dict[str, Any]], field: str, label: str) -> list[Series]:
    measured = sorted((p["rate"], p[field], p["verdict"]) for p in points if p.get(field) is not None)
    out = [Series(label, [(r, v) for r, v, _ in measured], PALETTE[0], "line")]
    for verdict, color in VERDICT_COLORS.items():
        out.append(Series(verdict, [(r, v) for r, v, vd in measured if vd == verdict], color, "crosses"))
    return out


def charts(doc: dict[str, Any]) -> list[Markup]:
    points = doc["sweep"]["points"]
    knee = doc["knee"]
    knee_rule = [Rule(knee["measured_rps"], f"knee {knee['measured_rps']:g} req/s", color="#15803d")] if knee else []
    slo = doc["slo"]
    made = []
    for field, label, objective in (("ttft_p95_ms", "TTFT p95 (ms)", slo.get("ttftP95Ms")),
                                    ("tpot_p95_ms", "TPOT p95 (ms)", slo.get("tpotP95Ms"))):
        rules = list(knee_rule)
        if objective is not None:
            rules.append(Rule(float(objective), f"SLO {objective:g} ms", vertical=False, color="#b91c1c"))
        made.append(Chart(f"{label} against offered rate", "offered rate (req/s)", label,
                          _series(points, field, label), rules=rules))
    made.append(Chart("Output tokens/s against offered rate", "offered rate (req/s)", "output tokens/s",
                      _series(points, "output_tokens_per_s", "output tokens/s"), rules=list(knee_rule)))
    return [Markup(c.render()) for c in made]


def render_html(doc: dict[str, Any]) -> str:
    env = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(resources.files("gpufleet.plan").joinpath("plan.html.jinja").read_text("utf-8"))
    return template.render(doc=doc, charts=charts(doc))


def write_html(doc: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(doc), encoding="utf-8")
