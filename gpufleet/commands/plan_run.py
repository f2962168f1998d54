"""The body of `gpufleet plan`: target, sweep, plan, outputs, write-back (argparse lives in plan.py)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from gpufleet.commands.plan import EXIT_INVALID, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, UsageError
from gpufleet.core.config import StackConfig, load_stack
from gpufleet.core.errors import StackConfigError
from gpufleet.core.model_catalog import load_model_catalog
from gpufleet.loadtest.target import TargetError
from gpufleet.plan import report
from gpufleet.plan.measure import GateMeasure, PointSettings, point_slo
from gpufleet.plan.planner import Demand, StackPlan, gpus_per_replica, plan_stack, release_config
from gpufleet.plan.limits import PlanRefused
from gpufleet.plan.simprofile import choose_profile, profile_by_name
from gpufleet.plan.sweep import Point, SweepResult, SweepSettings, find_knee
from gpufleet.plan.writeback import unified_diff

RESULT_EXIT = {"knee": EXIT_OK, "ceiling": EXIT_OK, "max_points": EXIT_OK, "no_pass": EXIT_REFUSED,
               "invalid": EXIT_INVALID, "partial": EXIT_INVALID}


def _err(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def sweep_settings(args: argparse.Namespace, cfg: StackConfig) -> SweepSettings:
    start = args.start_rps or cfg.slo.target_rate or 1.0
    return SweepSettings(start_rps=start, max_rps=args.max_rps or start * 64, min_rps=args.min_rps or start / 16,
                         resolution=args.resolution, max_points=args.max_points)


@contextlib.contextmanager
def target(args: argparse.Namespace, cfg: StackConfig, release: str) -> Iterator[dict[str, Any]]:
    """The replica to sweep: --host as given, or the simulator with the release's GPU profile."""
    if args.host:
        yield {"kind": "host", "url": args.host, "profile": None, "rehearsal": False,
               "replicas_behind": args.host_replicas, "model": args.model}
        return
    from gpufleet.simserver.launch import LocalServer

    rel = cfg.releases[release]
    entry = load_model_catalog().model(rel.model)
    profile = (profile_by_name(args.sim_profile) if args.sim_profile else
               choose_profile(cfg.stack, release, cfg.gpu_model, gpus_per_replica(cfg, release), entry.parameters))
    server = LocalServer(profile=profile.name, model=rel.served_model_name or rel.model.lower())
    try:
        server.start()
    except (RuntimeError, TimeoutError) as exc:
        raise UsageError(f"the local simulator did not start: {exc}") from None
    try:
        yield {"kind": "simulator", "url": server.url, "profile": profile.name, "rehearsal": True,
               "replicas_behind": 1, "model": args.model or server.model}
    finally:
        server.stop()


def _progress(quiet: bool):
    def show(point: Point) -> None:
        if quiet:
            return
        figures = "  ".join(f"{label} {value:.1f}" for label, value in (
            ("TTFT p95 ms", point.ttft_p95_ms), ("TPOT p95 ms", point.tpot_p95_ms),
            ("output tok/s", point.output_tokens_per_s)) if value is not None)
        took = f"  ({point.wall_s:.1f} s)" if point.wall_s is not None else ""
        print(f"  {point.phase:<6} {point.rate:8g} req/s  {point.verdict.upper():<7} {figures}{took}",
              file=sys.stderr, flush=True)
    return show


def _node_limit(plan: StackPlan) -> str:
    """The GPU ceiling as the stack's autoscaler reads it (Karpenter counts GPUs on EKS, ACK counts nodes)."""
    from gpufleet.core import clouds

    f = plan.fleet
    if clouds.get(plan.cfg.cloud).gpu_limit_unit == "gpus":
        return f"Karpenter NodePool limits nvidia.com/gpu: {f.karpenter_gpu_limit} (gpuPool.maxSize {f.pool_max})"
    return f"node pool max {f.pool_max} nodes (as a Karpenter limit: nvidia.com/gpu {f.karpenter_gpu_limit})"


def summary(sweep: SweepResult, plan: StackPlan | None, ctx: report.PlanContext) -> list[str]:
    lines = [f"plan: stack {ctx.stack}, release {ctx.release} ({ctx.model} on {ctx.gpu} per replica)"]
    if ctx.target["rehearsal"]:
        lines.append(f"target: local simulator, profile {ctx.target['profile']} - a REHEARSAL, not a measurement "
                     f"of the release")
    lines.append(sweep.message)
    if plan is None or sweep.knee is None:
        return lines
    f, c, cur = plan.fleet, plan.cost, plan.cost.currency
    lines += [
        f"knee: {ctx.knee_rps_per_replica:g} req/s per replica, {sweep.knee.output_tokens_per_s:.0f} output tokens/s"
        + ("" if sweep.outcome == "knee" else " (a lower bound: the plan is conservative)"),
        f"replicas: min {f.min_replicas}, max {f.max_replicas} (average needs {f.base_avg}, peak {f.base_peak} with "
        f"{ctx.demand.headroom:.0%} headroom; redundancy {ctx.demand.redundancy} over {f.inputs.zones} zones)",
        f"GPU nodes ({plan.cfg.gpu_pool.instance_type}, {f.inputs.gpus_per_node} GPU(s), {f.replicas_per_node} "
        f"replica(s) per node): this release {f.release_nodes_avg} at average, {f.release_nodes_peak} at peak",
        f"gpuPool: minSize {f.pool_min}, desiredSize {f.pool_desired}, maxSize {f.pool_max} (all releases on the pool; "
        f"{plan.limit.pool} ceiling {plan.limit.max_nodes})",
        f"limits: {_node_limit(plan)}; release minReplicas {f.min_replicas}, maxReplicas {f.max_replicas}",
        f"cost ({cur}/month, whole stack): {c.monthly_average:,.2f} at average, {c.monthly_peak:,.2f} at peak",
        "cost per 1M output tokens: " + ", ".join(
            f"{name} {tc.per_million:.4f} {cur}" for name, tc in c.per_million.items()),
    ]
    return lines


def _outputs(args: argparse.Namespace, doc: dict[str, Any]) -> None:
    report.write_json(doc, args.json)
    report.write_html(doc, args.html)
    print(f"wrote {args.json} and {args.html}")


def _write(args: argparse.Namespace, plan: StackPlan) -> str | None:
    """Show the diff, check the preview, write; the refusal line when it must not be written."""
    from gpufleet.plan.verify import preview_problem

    diff = unified_diff(plan.old_text, plan.new_text, plan.path.name)
    print(diff or f"{plan.path.name}: already as planned", end="" if diff else "\n")
    problem = preview_problem(plan.cfg.stack, plan.new_text, args.root)
    if problem:
        return f"not written: {problem}"
    if diff:
        plan.path.write_text(plan.new_text, encoding="utf-8")
        print(f"wrote {plan.path}")
    return None


def execute(args: argparse.Namespace) -> int:
    try:
        cfg = release_config(load_stack(args.stack, root=args.root), args.release)
        settings = sweep_settings(args, cfg)
        demand = Demand(args.peak_rps, args.avg_rps or args.peak_rps, args.headroom, args.redundancy)
        points = PointSettings(duration_s=args.point_duration, warmup_s=args.warmup, min_samples=args.min_samples,
                               processes=args.processes, timeout_s=args.timeout)
        point_slo(cfg.slo, settings.start_rps, points)  # a bad override fails here, before any traffic
        with target(args, cfg, args.release) as tgt:
            measure = GateMeasure(tgt["url"], tgt["model"], cfg.slo, points, allow_remote=args.allow_remote,
                                  on_point=_progress(args.quiet))
            sweep = find_knee(measure, settings)
    except (StackConfigError, ValueError, TargetError) as exc:
        _err(str(exc))
        return EXIT_USAGE
    rel = cfg.releases[args.release]
    knee_rps = sweep.knee.rate / tgt["replicas_behind"] if sweep.knee else None
    ctx = report.PlanContext(cfg.stack, args.release, rel.model, f"{gpus_per_replica(cfg, args.release)}x {cfg.gpu_model}",
                             tgt, cfg.slo, demand, knee_rps)
    plan, refused = None, None
    if sweep.knee is not None:
        try:
            plan = plan_stack(cfg, args.release, knee_rps=knee_rps, knee_tokens_per_s=(
                sweep.knee.output_tokens_per_s or 0) / tgt["replicas_behind"], demand=demand, root=args.root)
        except (PlanRefused, ValueError) as exc:
            refused = str(exc)
    for line in summary(sweep, plan, ctx):
        print(line)
    if refused is None and plan is not None and args.write:
        refused = (_write(args, plan) if sweep.outcome != "partial" else
                   "not written: the sweep ended on an invalid point; rerun it so the knee is measured, not bounded")
    doc = report.plan_document(ctx, sweep, plan, refused=refused, written=bool(args.write and not refused))
    try:
        _outputs(args, doc)
    except OSError as exc:
        _err(f"cannot write the plan: {exc}")
        return EXIT_USAGE
    if refused:
        print(f"refused: {refused}", file=sys.stderr)
        return EXIT_INVALID if sweep.outcome == "partial" else EXIT_REFUSED
    return RESULT_EXIT[sweep.outcome]
