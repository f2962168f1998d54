"""`gpufleet promote`: shift traffic to a release step by step, each shift judged on its live traffic.

    gpufleet promote --stack NAME --to RELEASE [--steps 10,50,100] [--dry-run] [--local] [--html PATH]
                     [--host URL] [--settle S] [--timeout S] [--audit-log PATH] [--lock-dir DIR]

The SLO load test gates the first shift; after every shift the candidate's
real traffic is analysed in the stack's Prometheus (`gpufleet:promotion`).
`--dry-run --local` rehearses it all on this machine (`promote_rehearsal`).

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


from gpufleet.commands._errors import CannotRun  # noqa: E402  (shared by the commands)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "promote",
        help="shift traffic to a release step by step, each shift judged on live traffic (rollback on any doubt)",
        description="Check that the candidate release is fully rolled out and passes the stack's SLO load test, "
                    "then apply each step's weights with Pulumi and analyse the candidate's live traffic in the "
                    "stack's Prometheus against the SLO and the baseline (gpufleet:promotion); on fail, invalid, "
                    "inconclusive, a Pulumi error, a timeout or Ctrl-C restore the last good weights.",
    )
    p.add_argument("--stack", required=True, metavar="NAME", help="stack to promote on")
    p.add_argument("--to", required=True, dest="candidate", metavar="RELEASE", help="release that gets the traffic")
    p.add_argument("--steps", default="10,50,100", metavar="LIST",
                   help="the candidate's share after each step, rising (default: 10,50,100)")
    p.add_argument("--dry-run", action="store_true",
                   help="run every check and print the plan and verdicts, apply nothing")
    p.add_argument("--local", action="store_true",
                   help="with --dry-run: rehearse on this machine (simulators behind HAProxy, Locust users, a real "
                        "Prometheus) instead of the cluster")
    p.add_argument("--sim", action="append", default=[], metavar="KEY=VALUE",
                   help="with --local: a candidate simulator option, e.g. itl_ms=5 or error_rate=0.2 (repeatable)")
    p.add_argument("--baseline-sim", action="append", default=[], metavar="KEY=VALUE",
                   help="with --local: the other releases' simulator options (default: the candidate's, without "
                        "its faults)")
    p.add_argument("--sim-at", action="append", default=[], metavar="STEP:KEY=VALUE",
                   help="with --local: switch a fault on in the candidate when STEP's weights are applied, e.g. "
                        "2:error_rate=0.3, 2:ttft_ms=400, 3:stall_rate=1 (repeatable)")
    p.add_argument("--traffic-rate", type=float, default=None, metavar="R",
                   help="with --local: requests per second the rehearsal's users send through the router "
                        "(default: 10)")
    p.add_argument("--analysis-interval", type=float, default=None, metavar="S",
                   help="with --dry-run: seconds per analysis iteration instead of gpufleet:promotion.intervalS")
    p.add_argument("--analysis-iterations", type=int, default=None, metavar="N",
                   help="with --dry-run: iterations per step instead of gpufleet:promotion.iterations")
    p.add_argument("--html", type=Path, default=None, metavar="PATH",
                   help="write an HTML report: every analysed metric over the promotion's time line, steps marked")
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
    p.add_argument("--gate-warmup", type=float, default=None, metavar="S",
                   help="with --dry-run: warm-up seconds of each gate instead of the SLO's warmupS")
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
    if args.host is not None and not args.host.strip():
        raise CannotRun("--host is empty; give the candidate's base URL, or leave --host out to use the gateway")
    if args.local and args.host:
        raise CannotRun("--local and --host both choose the gate's target; give one")
    if (args.analysis_interval is not None or args.analysis_iterations is not None) and not args.dry_run:
        raise CannotRun("--analysis-interval and --analysis-iterations only shorten a --dry-run; a promotion "
                        "analyses each step as gpufleet:promotion says")
    from gpufleet.commands.promote_rehearsal import check_local_arguments

    check_local_arguments(args)
    if args.settle < 0 or args.timeout < 0:
        raise CannotRun("--settle and --timeout must be zero or more seconds")
    if (args.gate_rate is not None or args.gate_duration is not None or args.gate_warmup is not None) \
            and not args.dry_run:
        raise CannotRun("--gate-rate, --gate-duration and --gate-warmup only shorten a --dry-run; a promotion gates "
                        "at the stack's SLO load")
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


def plan_lines(plan: Any, target: Any, *, dry_run: bool, settle_s: float, rollout_note: str,
               analysis_note: str | None = None, rehearsal: bool = False) -> list[str]:
    from gpufleet.promote.plan import format_weights

    if rehearsal:
        mode = "REHEARSAL: a local router is shifted, nothing of the stack is touched"
    else:
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
    if analysis_note:
        lines.append(f"  analysis: {analysis_note}")
    if not dry_run or rehearsal:
        lines.append(f"  settle: {settle_s:g} s after each shift, then the candidate is checked again")
    return lines


# ---------------------------------------------------------------- run


def _cluster(args: argparse.Namespace, inputs: Any, audit: Any, root: Path, stack: str,
             say: Callable[[str], None]) -> tuple[Any, ...]:
    """Target, rollout check and its note, stack, lock, gate and Prometheus client of a run on the stack."""
    from gpufleet.loadtest.progress import throttled
    from gpufleet.promote.audit import who
    from gpufleet.promote.automation import PulumiStack, StackUnavailable
    from gpufleet.promote.gates import LoadTestGate, needs_remote
    from gpufleet.promote.kube import KubeRolloutCheck
    from gpufleet.promote.live import prometheus_client
    from gpufleet.promote.lock import PromotionLock
    from gpufleet.promote.machine import Target
    from gpufleet.promote.prometheus import PrometheusError

    try:
        # The HTTPRoute, the gateway address and the kubeconfig live in the workloads phase's stack
        # (its own project beside the platform's; a single-project layout keeps the root).
        workloads = root / "workloads"
        pulumi_stack = PulumiStack(args.stack, workloads if (workloads / "Pulumi.yaml").exists()
                                   else root)  # as given: pulumi resolves org/project
        outputs = pulumi_stack.outputs()
    except StackUnavailable as exc:
        raise CannotRun(str(exc)) from None
    kubeconfig = kubeconfig_from_outputs(stack, outputs)
    url = args.host or gateway_url(stack, outputs, args.candidate)
    target = Target(url, inputs.served_models[args.candidate])
    try:
        rollout = KubeRolloutCheck(kubeconfig)
        client = prometheus_client(inputs.promotion, kubeconfig)
    except Exception as exc:  # the kubernetes client's ConfigException and friends
        raise CannotRun(f"stack '{stack}': cannot use the 'kubeconfig' output: {exc}") from None
    try:
        client.ready()  # before anything moves: a promotion that cannot watch its traffic must not start
    except PrometheusError as exc:
        raise CannotRun(f"stack '{stack}': gpufleet:promotion.prometheus: {exc}; the promotion analyses "
                        "live traffic there and does not start without it") from None
    note = (f"Deployment {args.candidate} fully rolled out and all pods ready "
            "(Kubernetes API, kubeconfig from the stack output), before every gate and analysis")
    lock = PromotionLock(lock_dir(args, root), stack, {
        "who": who(), "candidate": args.candidate, "since": audit.clock(), "promotion": audit.promotion_id,
    })
    traffic_stack = None if args.dry_run else pulumi_stack
    gate = LoadTestGate(allow_remote=needs_remote(url), on_progress=throttled(say, label="  gate"))
    return target, rollout, note, traffic_stack, lock, gate, client


def _gate_slo(args: argparse.Namespace, inputs: Any, say: Callable[[str], None]) -> Any:
    slo = inputs.slo
    if args.gate_rate is not None or args.gate_duration is not None or args.gate_warmup is not None:
        from gpufleet.core.slo import with_load
        try:
            slo = with_load(slo, rate=args.gate_rate, duration_s=args.gate_duration, warmup_s=args.gate_warmup)
        except ValueError as exc:
            raise CannotRun(f"--gate-rate/--gate-duration/--gate-warmup: {exc}") from None
        say(f"gate load for this dry run: {slo.target_rate} req/s for {slo.duration_s:g} s after {slo.warmup_s:g} s "
            f"warm-up (stack SLO: {inputs.slo.target_rate or inputs.slo.target_users} for {inputs.slo.duration_s:g} s "
            f"after {inputs.slo.warmup_s:g} s)")
    return slo


def execute(args: argparse.Namespace, say: Callable[[str], None]) -> int:
    from gpufleet.promote.audit import AuditLog
    from gpufleet.promote.inputs import InputsError, load_inputs
    from gpufleet.promote.kube import SkippedRolloutCheck
    from gpufleet.promote.live import describe, step_analysis, with_overrides
    from gpufleet.promote.machine import Target
    from gpufleet.promote.plan import PlanError, build_plan
    from gpufleet.promote.session import run_promotion

    from gpufleet.core.project import find_project

    steps = check_arguments(args)
    project = find_project()
    stack_name = project.stack_name(args.stack)
    if args.audit_log is None:
        args.audit_log = project.root / DEFAULT_AUDIT_LOG
    try:
        inputs = load_inputs(stack_name, root=project.root)
        plan = build_plan(stack_name, inputs.traffic, args.candidate, steps, jurisdiction=inputs.jurisdiction,
                          cloud=inputs.cloud, releases=inputs.replicas)
        promotion = with_overrides(inputs.promotion, interval_s=args.analysis_interval,
                                   iterations=args.analysis_iterations)
    except (InputsError, PlanError, ValueError) as exc:
        raise CannotRun(str(exc)) from None
    from gpufleet.loadtest.runner import check_workload
    try:
        check_workload(inputs.slo.workload)
    except ValueError as exc:  # the gate could never run: say so now, not as an invalid verdict per step
        raise CannotRun(f"stack '{stack_name}': gpufleet:slo.workload: {exc}") from None
    slo = _gate_slo(args, inputs, say)
    audit = AuditLog(args.audit_log, stack=stack_name, candidate=args.candidate)
    with ExitStack() as cleanup:
        if args.local:
            from gpufleet.commands import promote_rehearsal
            from gpufleet.promote.gates import LoadTestGate

            from gpufleet.loadtest.progress import throttled
            from gpufleet.moderation.local_stage import stage_in_front

            local = promote_rehearsal.start(args, inputs, plan, cleanup, audit, say)
            stack, client, lock = local.stack, local.client, None  # nothing of the stack is touched
            # a stack with a moderation stage is gated through it
            target = Target(cleanup.enter_context(stage_in_front(args.stack, local.target.url)), local.target.model)
            rollout: Any = SkippedRolloutCheck(promote_rehearsal.LOCAL_SKIP_REASON)
            rollout_note = promote_rehearsal.LOCAL_SKIP_REASON
            gate = local.rehearsal.gate(LoadTestGate(allow_remote=False, on_progress=throttled(say, label="  gate")))
        else:
            target, rollout, rollout_note, stack, lock, gate, client = _cluster(args, inputs, audit, project.root,
                                                                                stack_name, say)
        analyse = not args.dry_run or args.local  # a dry run on the stack shifts nothing to analyse
        note = describe(promotion, client.where) if analyse else f"none in a dry run (Prometheus at {client.where} answers)"
        for line in plan_lines(plan, target, dry_run=args.dry_run, settle_s=args.settle, rollout_note=rollout_note,
                               analysis_note=note, rehearsal=args.local):
            say(line)
        analysis = step_analysis(client, promotion, inputs.slo, record=audit.record, say=say) if analyse else None
        outcome = run_promotion(
            plan, slo=slo, target=target, stack=stack, rollout=rollout, gate=gate, audit=audit,
            lock=lock, settle_s=args.settle, dry_run=args.dry_run and not args.local, timeout_s=args.timeout or None,
            say=say, analysis=analysis, rehearsal=args.local,
        )
        _report(args, audit, client, promotion, say)
    say(f"{outcome.result.value}: {outcome.reason}")
    say(f"audit log: {args.audit_log} (promotion {audit.promotion_id})")
    return outcome.exit_code


def _report(args: argparse.Namespace, audit: Any, client: Any, promotion: Any, say: Callable[[str], None]) -> None:
    """The summary table, and the HTML report while Prometheus is still there to ask."""
    from gpufleet.promote.audit import read_audit
    from gpufleet.promote.summary import summary_lines

    events = read_audit(args.audit_log, audit.promotion_id)
    for line in summary_lines(events):
        say(line)
    if args.html is not None:
        from gpufleet.promote.report import write_report

        if not any(e["event"] == "plan" for e in events):
            say(f"report: not written to {args.html} (the promotion did not start)")
            return
        write_report(args.html, events, client, promotion)
        say(f"report: {args.html}")


def run(args: argparse.Namespace) -> int:
    from gpufleet.promote.machine import EXIT_CANNOT_RUN, EXIT_INTERRUPTED

    def say(line: str) -> None:
        print(line, flush=True)

    try:
        return execute(args, say)
    except CannotRun as exc:
        print(f"gpufleet promote: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except KeyboardInterrupt:  # outside the state machine (set-up, tear-down): nothing was shifted by us
        print("gpufleet promote: interrupted (Ctrl-C)", file=sys.stderr)
        return EXIT_INTERRUPTED
