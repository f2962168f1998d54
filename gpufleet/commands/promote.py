"""`gpufleet promote`: shift traffic to a release step by step, each step gated by the SLO load test.

    gpufleet promote --stack NAME --to RELEASE [--steps 10,50,100] [--dry-run] [--local]
                     [--host URL] [--settle S] [--timeout S] [--audit-log PATH] [--lock-dir DIR]

Exit codes: 0 promoted (or dry run passed); 1 a check did not pass or a step
failed, and the last good weights are back; 2 nothing was done (bad
arguments or config, no Pulumi CLI, another promotion holds the lock);
3 the last good weights could not be restored (act by hand); 130 interrupted,
last good weights restored. See docs/promote.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable

# Relative to the project (the directory of its Pulumi.yaml).
DEFAULT_AUDIT_LOG = Path(".gpufleet") / "audit" / "promotions.jsonl"
DEFAULT_LOCK_DIR = Path(".gpufleet") / "locks"
LOCK_DIR_ENV = "GPUFLEET_LOCK_DIR"
LOCAL_SKIP_REASON = ("dry run against the local simulator (--local): there is no cluster, "
                     "so the Kubernetes rollout check is skipped")


from gpufleet.commands._errors import CannotRun  # noqa: E402  (shared by the commands)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "promote",
        help="shift traffic to a release in gated steps (load-test gate, rollback on any doubt)",
        description="For each step, check that the candidate release is fully rolled out, run the stack's "
                    "SLO load test against it, and only on 'pass' apply the new weights with Pulumi; "
                    "on fail, invalid, a Pulumi error, a timeout or Ctrl-C restore the last good weights.",
    )
    p.add_argument("--stack", required=True, metavar="NAME", help="stack to promote on")
    p.add_argument("--to", required=True, dest="candidate", metavar="RELEASE", help="release that gets the traffic")
    p.add_argument("--steps", default="10,50,100", metavar="LIST",
                   help="the candidate's share after each step, rising (default: 10,50,100)")
    p.add_argument("--dry-run", action="store_true",
                   help="run every check and print the plan and verdicts, apply nothing")
    p.add_argument("--local", action="store_true",
                   help="with --dry-run: gate against the local vLLM simulator instead of the cluster")
    p.add_argument("--sim", action="append", default=[], metavar="KEY=VALUE",
                   help="with --local: a simulator option, e.g. itl_ms=5 or error_rate=0.2 (repeatable)")
    p.add_argument("--host", metavar="URL",
                   help="the candidate's base URL for the gate (default: http://<gatewayAddress>/release/<RELEASE>)")
    p.add_argument("--settle", type=float, default=120.0, metavar="S",
                   help="seconds to wait after each shift before re-checking (default: 120)")
    p.add_argument("--timeout", type=float, default=3600.0, metavar="S",
                   help="give up and roll back after this many seconds in all (default: 3600; 0: no limit)")
    p.add_argument("--audit-log", type=Path, default=None, metavar="PATH",
                   help=f"JSON-lines audit log to append to (default: {DEFAULT_AUDIT_LOG} in the project)")
    p.add_argument("--root", dest="cwd", default=argparse.SUPPRESS, metavar="DIR",
                   help="same as -C DIR: the project found from DIR upward (default: the current directory)")
    p.add_argument("--gate-rate", type=float, default=None, metavar="R",
                   help="with --dry-run: run each gate at this request rate instead of the SLO's (the SLO's "
                        "thresholds and minSamples still apply)")
    p.add_argument("--gate-duration", type=float, default=None, metavar="S",
                   help="with --dry-run: measured seconds of each gate instead of the SLO's durationS")
    p.add_argument("--lock-dir", type=Path, default=None, metavar="DIR",
                   help=f"where the per-stack lock files live (default: ${LOCK_DIR_ENV} or "
                        f"{DEFAULT_LOCK_DIR} in the project)")
    p.set_defaults(func=run)


# ---------------------------------------------------------------- argument checks


def check_arguments(args: argparse.Namespace, which: Callable[[str], str | None] = shutil.which) -> tuple[int, ...]:
    """The parsed steps; CannotRun for any combination that must not start."""
    from gpufleet.promote.plan import PlanError, parse_steps

    try:
        steps = parse_steps(args.steps)
    except PlanError as exc:
        raise CannotRun(str(exc)) from None
    if args.local and not args.dry_run:
        raise CannotRun("--local needs --dry-run: a simulator's verdict must never move real traffic")
    if args.sim and not args.local:
        raise CannotRun("--sim configures the local simulator; it needs --local")
    if args.local and args.host:
        raise CannotRun("--local and --host both choose the gate's target; give one")
    if args.settle < 0 or args.timeout < 0:
        raise CannotRun("--settle and --timeout must be zero or more seconds")
    if (args.gate_rate is not None or args.gate_duration is not None) and not args.dry_run:
        raise CannotRun("--gate-rate and --gate-duration only shorten a --dry-run; a promotion gates at the stack's SLO load")
    if not args.local and which("pulumi") is None:
        if args.dry_run:
            raise CannotRun("a dry run against the cluster reads the stack's outputs with the Pulumi CLI, which is "
                            "not on PATH; install it, or rehearse with --dry-run --local")
        raise CannotRun("applying weights needs the Pulumi CLI, which is not on PATH; install it "
                        "(https://www.pulumi.com/docs/install/), or rehearse with --dry-run --local")
    return steps


def lock_dir(args: argparse.Namespace, project_root: Path) -> Path:
    return args.lock_dir or Path(os.environ.get(LOCK_DIR_ENV) or project_root / DEFAULT_LOCK_DIR)


# ---------------------------------------------------------------- stack outputs


def kubeconfig_from_outputs(stack: str, outputs: dict[str, Any]) -> dict[str, Any]:
    import yaml

    value = outputs.get("kubeconfig")
    if not value:
        raise CannotRun(f"stack '{stack}' has no 'kubeconfig' output (run pulumi up first)")
    data = yaml.safe_load(value) if isinstance(value, str) else value
    if not isinstance(data, dict):
        raise CannotRun(f"stack '{stack}': the 'kubeconfig' output is not a kubeconfig document")
    return data


def gateway_url(stack: str, outputs: dict[str, Any], candidate: str) -> str:
    from gpufleet.core.traffic_names import OUTPUT_GATEWAY_ADDRESS, release_path

    address = outputs.get(OUTPUT_GATEWAY_ADDRESS)
    if not address:
        raise CannotRun(f"stack '{stack}' has no '{OUTPUT_GATEWAY_ADDRESS}' output (deploy the TrafficRouter first, "
                        "or pass --host)")
    return f"http://{address}{release_path(candidate)}"


# ---------------------------------------------------------------- printing


def plan_lines(plan: Any, target: Any, *, dry_run: bool, settle_s: float, rollout_note: str) -> list[str]:
    from gpufleet.promote.plan import format_weights

    mode = "DRY RUN: nothing will be applied" if dry_run else "weights are applied with pulumi up"
    lines = [
        f"promotion of {plan.candidate} on stack {plan.stack} ({mode})",
        f"  now:    {format_weights(plan.start)}",
    ]
    for step in plan.steps:
        lines.append(f"  step {step.number}: {format_weights(step.after)}  ({plan.candidate} {step.share}%)")
    lines += [
        f"  gate:   the stack's SLO load test against {target.url} (model {target.model})",
        f"  checks: {rollout_note}",
    ]
    if not dry_run:
        lines.append(f"  settle: {settle_s:g} s after each shift, then the candidate is checked again")
    return lines


# ---------------------------------------------------------------- run


def execute(args: argparse.Namespace, say: Callable[[str], None]) -> int:
    from gpufleet.promote.audit import AuditLog, who
    from gpufleet.loadtest.progress import throttled
    from gpufleet.promote.gates import LoadTestGate, needs_remote
    from gpufleet.promote.inputs import InputsError, load_inputs
    from gpufleet.promote.kube import KubeRolloutCheck, SkippedRolloutCheck
    from gpufleet.promote.lock import PromotionLock
    from gpufleet.promote.machine import Target
    from gpufleet.promote.plan import PlanError, build_plan
    from gpufleet.promote.session import run_promotion

    from gpufleet.core.project import find_project

    steps = check_arguments(args)
    project = find_project()
    stack = project.stack_name(args.stack)
    if args.audit_log is None:
        args.audit_log = project.root / DEFAULT_AUDIT_LOG
    try:
        inputs = load_inputs(stack, root=project.root)
        plan = build_plan(stack, inputs.traffic, args.candidate, steps, jurisdiction=inputs.jurisdiction,
                          cloud=inputs.cloud, releases=inputs.replicas)
    except (InputsError, PlanError) as exc:
        raise CannotRun(str(exc)) from None
    audit = AuditLog(args.audit_log, stack=stack, candidate=args.candidate)
    with ExitStack() as cleanup:
        if args.local:
            from gpufleet.commands.loadtest import UsageError, parse_sim_options
            from gpufleet.simserver.launch import LocalServer

            try:
                # serve the candidate's model name, as the real release would
                server = LocalServer(**{"model": inputs.served_models[args.candidate], **parse_sim_options(args.sim)})
            except (UsageError, TypeError, ValueError) as exc:
                raise CannotRun(f"--sim: {exc}") from None
            try:
                cleanup.enter_context(server)
            except (RuntimeError, TimeoutError) as exc:
                raise CannotRun(f"the local simulator did not start: {exc}") from None
            from gpufleet.moderation.local_stage import stage_in_front
            # a stack with a moderation stage is gated through it
            target = Target(cleanup.enter_context(stage_in_front(args.stack, server.url)), server.model)
            rollout: Any = SkippedRolloutCheck(LOCAL_SKIP_REASON)
            rollout_note = LOCAL_SKIP_REASON
            traffic_stack = None
            lock = None  # nothing of the stack is touched
            gate = LoadTestGate(allow_remote=False, on_progress=throttled(say, label="  gate"))
        else:
            from gpufleet.promote.automation import PulumiStack, StackUnavailable

            try:
                # The HTTPRoute, the gateway address and the kubeconfig live in the workloads phase's stack
                # (its own project beside the platform's; a single-project layout keeps the root).
                workloads = project.root / "workloads"
                pulumi_stack = PulumiStack(args.stack, workloads if (workloads / "Pulumi.yaml").exists()
                                           else project.root)  # as given: pulumi resolves org/project
                outputs = pulumi_stack.outputs()
            except StackUnavailable as exc:
                raise CannotRun(str(exc)) from None
            kubeconfig = kubeconfig_from_outputs(stack, outputs)
            url = args.host or gateway_url(stack, outputs, args.candidate)
            target = Target(url, inputs.served_models[args.candidate])
            try:
                rollout = KubeRolloutCheck(kubeconfig)
            except Exception as exc:  # the kubernetes client's ConfigException and friends
                raise CannotRun(f"stack '{stack}': cannot use the 'kubeconfig' output: {exc}") from None
            rollout_note = (f"Deployment {args.candidate} fully rolled out and all pods ready "
                            "(Kubernetes API, kubeconfig from the stack output), before every gate")
            traffic_stack = None if args.dry_run else pulumi_stack
            lock = PromotionLock(lock_dir(args, project.root), stack, {
                "who": who(), "candidate": args.candidate, "since": audit.clock(), "promotion": audit.promotion_id,
            })
            gate = LoadTestGate(allow_remote=needs_remote(url), on_progress=throttled(say, label="  gate"))
        for line in plan_lines(plan, target, dry_run=args.dry_run, settle_s=args.settle, rollout_note=rollout_note):
            say(line)
        slo = inputs.slo
        if args.gate_rate is not None or args.gate_duration is not None:
            from gpufleet.core.slo import with_load
            try:
                slo = with_load(slo, rate=args.gate_rate, duration_s=args.gate_duration)
            except ValueError as exc:
                raise CannotRun(f"--gate-rate/--gate-duration: {exc}") from None
            say(f"gate load for this dry run: {slo.target_rate} req/s for {slo.duration_s:g} s "
                f"(stack SLO: {inputs.slo.target_rate or inputs.slo.target_users} for {inputs.slo.duration_s:g} s)")
        outcome = run_promotion(
            plan, slo=slo, target=target, stack=traffic_stack, rollout=rollout, gate=gate, audit=audit,
            lock=lock, settle_s=args.settle, dry_run=args.dry_run, timeout_s=args.timeout or None, say=say,
        )
    say(f"{outcome.result.value}: {outcome.reason}")
    say(f"audit log: {args.audit_log} (promotion {audit.promotion_id})")
    return outcome.exit_code


def run(args: argparse.Namespace) -> int:
    from gpufleet.promote.machine import EXIT_CANNOT_RUN

    def say(line: str) -> None:
        print(line, flush=True)

    try:
        return execute(args, say)
    except CannotRun as exc:
        print(f"gpufleet promote: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
