"""`gpufleet promote --dry-run --local`: argument checks and set-up of the local rehearsal.

Kept out of `promote.py` so the command module stays about the real run; the
rehearsal itself lives in `gpufleet.promote.rehearsal`.
"""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Callable

from gpufleet.commands._errors import CannotRun

LATENCIES = ("ttft_ms", "itl_ms")  # the simulator switches that are not faults
LOCAL_SKIP_REASON = ("rehearsal on this machine (--local): there is no cluster, "
                     "so the Kubernetes rollout check is skipped")


def parse_sim_at(items: list[str], steps: int) -> dict[int, dict[str, float]]:
    """['2:error_rate=0.3', '2:stall_ms=3000'] -> {2: {'error_rate': 0.3, 'stall_ms': 3000.0}}."""
    from gpufleet.simserver.switches import SWITCHES

    faults: dict[int, dict[str, float]] = {}
    for item in items:
        step_text, _, assignment = item.partition(":")
        key, eq, value_text = assignment.partition("=")
        try:
            step, value = int(step_text), float(value_text)
        except ValueError:
            step, value = 0, -1.0
        if not eq or not 1 <= step <= steps or key not in SWITCHES or value < 0:
            raise CannotRun(f"--sim-at {item!r}: expected STEP:KEY=VALUE with STEP from 1 to {steps}, KEY one of "
                            f"{', '.join(SWITCHES)} and VALUE a number >= 0 (e.g. 2:error_rate=0.3)")
        faults.setdefault(step, {})[key] = value
    return faults


def check_local_arguments(args: argparse.Namespace) -> None:
    if not args.local and (args.baseline_sim or args.sim_at or args.traffic_rate is not None):
        raise CannotRun("--baseline-sim, --sim-at and --traffic-rate configure the local rehearsal; they need --local")
    if args.traffic_rate is not None and not 0 < args.traffic_rate <= 500:
        raise CannotRun(f"--traffic-rate must be above 0 and at most 500 requests per second; got {args.traffic_rate:g}")


@dataclass
class Local:
    """What the command needs from a started rehearsal."""

    rehearsal: Any
    target: Any
    stack: Any
    client: Any


def start(args: argparse.Namespace, inputs: Any, plan: Any, cleanup: ExitStack, audit: Any,
          say: Callable[[str], None]) -> Local:
    """Start the simulators, the router, Prometheus and the traffic; CannotRun (exit 2) if any cannot."""
    from gpufleet.commands.loadtest import UsageError, parse_sim_options
    from gpufleet.promote.machine import Target
    from gpufleet.promote.rehearsal import Rehearsal, RehearsalError, RehearsalSpec
    from gpufleet.simserver.switches import SWITCHES

    try:
        candidate_options = parse_sim_options(args.sim)
        # without --baseline-sim the baseline runs like the candidate, minus the candidate's faults
        baseline_options = (parse_sim_options(args.baseline_sim) if args.baseline_sim else
                            {k: v for k, v in candidate_options.items() if k not in SWITCHES or k in LATENCIES})
    except (UsageError, ValueError) as exc:
        raise CannotRun(f"--sim/--baseline-sim: {exc}") from None
    spec = RehearsalSpec(
        candidate=plan.candidate, start=dict(plan.start), model=inputs.served_models[plan.candidate],
        selector=inputs.promotion.selector, candidate_options=candidate_options, baseline_options=baseline_options,
        faults=parse_sim_at(args.sim_at, len(plan.steps)),
        step_weights={s.number: s.after for s in plan.steps}, workload=inputs.slo.workload,
        traffic_rate=args.traffic_rate or 10.0, duration_s=(args.timeout or 3600.0) + 60.0,
    )
    try:
        rehearsal = cleanup.enter_context(Rehearsal(spec, say=say, record=audit.record))
    except (RehearsalError, RuntimeError, TimeoutError, TypeError, ValueError) as exc:
        raise CannotRun(f"the local rehearsal did not start: {exc}") from None
    target = Target(rehearsal.candidate_url, spec.model)
    return Local(rehearsal, target, rehearsal.stack(), rehearsal.client())
