"""`gpufleet loadtest`: load-test an endpoint and judge it against an SLO.

Exit codes: 0 pass, 1 fail, 2 usage or config error, 3 invalid (the
measurement cannot be trusted). Targets must be loopback unless
--allow-remote is given; with neither --host nor --from-run, the local
vLLM simulator is started and targeted (--local).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pydantic
import yaml
from pydantic.alias_generators import to_camel
from rich.console import Console

from gpufleet.loadtest.gate import Verdict
from gpufleet.loadtest.progress import ProgressPrinter
from gpufleet.loadtest.rawrun import read_run, write_run
from gpufleet.loadtest.runner import HarnessError, check_workload
from gpufleet.loadtest.report import LoadTestReport, summary_lines
from gpufleet.loadtest.session import judge_run, run_gate
from gpufleet.core.slo import SloSpec, with_load
from gpufleet.loadtest.target import TargetError
from gpufleet.loadtest.writers import write_csv, write_html, write_json

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_INVALID = 0, 1, 2, 3
REPORT_PREFIX = "GPUFLEET_REPORT "
EXIT_CODES = {Verdict.PASS: EXIT_PASS, Verdict.FAIL: EXIT_FAIL, Verdict.INVALID: EXIT_INVALID}

# Used when neither --slo nor --stack gives one: an interactive-chat SLO for quick local runs.
DEFAULT_SLO = SloSpec(
    target_users=4,
    duration_s=30.0,
    warmup_s=5.0,
    ttft_p95_ms=2000.0,
    tpot_p95_ms=100.0,
    max_error_rate=0.01,
    min_goodput=0.9,
    goodput_ttft_ms=2000.0,
    goodput_tpot_ms=100.0,
    min_samples=50,
)


class UsageError(Exception):
    """A problem with the command line or the configuration (exit 2)."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "loadtest",
        help="load-test an OpenAI-compatible endpoint and gate it on an SLO",
        description="Run a Locust load test (closed loop with --users, open loop with --rate), compute exact "
                    "latency statistics and judge them against an SLO. Exit 0 pass, 1 fail, 2 usage/config "
                    "error, 3 invalid measurement.",
    )
    target = parser.add_argument_group("target")
    target.add_argument("--host", help="base URL of the endpoint, e.g. http://127.0.0.1:8000 (loopback only "
                                       "unless --allow-remote)")
    target.add_argument("--local", action="store_true",
                        help="start the local vLLM simulator and target it (the default without --host)")
    target.add_argument("--sim", action="append", default=[], metavar="KEY=VALUE",
                        help="simulator option for --local, e.g. --sim error_rate=0.1 --sim itl_ms=20")
    target.add_argument("--allow-remote", action="store_true",
                        help="allow a non-loopback --host (for the in-region runner inside a cluster)")
    target.add_argument("--model", help="model name to request (default: the first one /v1/models lists)")
    target.add_argument("--from-run", type=Path, metavar="PATH",
                        help="judge a saved raw run (from --save-run or the in-cluster master) instead of running")
    slo = parser.add_argument_group("SLO and load")
    slo.add_argument("--stack", help="take the SLO from stacks/Pulumi.<stack>.yaml (gpufleet:slo)")
    slo.add_argument("--slo", type=Path, metavar="PATH", help="take the SLO from a YAML file (camelCase keys)")
    load = slo.add_mutually_exclusive_group()
    load.add_argument("--users", type=int, help="closed loop with this many concurrent users")
    load.add_argument("--rate", type=float, help="open loop with Poisson arrivals at this many requests/s")
    slo.add_argument("--duration", type=float, help="measured seconds (after warm-up)")
    slo.add_argument("--warmup", type=float, help="warm-up seconds, dropped from statistics")
    slo.add_argument("--workload", help="workload name from loadtests/workloads.yaml")
    slo.add_argument("--min-samples", type=int, help="override the SLO's minimum number of requests")
    slo.add_argument("--processes", type=int, default=1,
                     help="load-generator processes (Locust master + N workers when N > 1)")
    slo.add_argument("--timeout", type=float, default=120.0, help="seconds one request may take (default 120)")
    slo.add_argument("--stall-timeout", type=float, default=30.0,
                     help="seconds without bytes before a request times out (default 30)")
    out = parser.add_argument_group("output")
    out.add_argument("--json", metavar="PATH", help="write the report document ('-' for stdout)")
    out.add_argument("--json-line", action="store_true",
                     help="print the report as one 'GPUFLEET_REPORT {json}' line (for kubectl logs)")
    out.add_argument("--html", type=Path, metavar="PATH", help="write a self-contained HTML report")
    out.add_argument("--csv", type=Path, metavar="PATH", help="write raw per-request records")
    out.add_argument("--save-run", type=Path, metavar="PATH", help="keep the raw run for --from-run")
    out.add_argument("--quiet", action="store_true", help="no progress line and no summary")
    parser.set_defaults(func=run)


def load_stack_slo(stack: str) -> SloSpec:
    """The `gpufleet:slo` block of a stack, via the one config reader (imported lazily)."""
    from gpufleet.core.config import load_stack

    config = load_stack(stack)
    slo = getattr(config, "slo", None)
    if slo is None:
        raise UsageError(f"stack '{stack}' has no gpufleet:slo block")
    if not isinstance(slo, SloSpec):
        slo = SloSpec.model_validate(slo)
    return slo


def load_slo_file(path: Path) -> SloSpec:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read SLO file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"SLO file {path} is not YAML: {exc}") from None
    if isinstance(data, dict) and "gpufleet:slo" in data:
        data = data["gpufleet:slo"]
    try:
        return SloSpec.model_validate(data)
    except pydantic.ValidationError as exc:
        raise UsageError(f"SLO file {path}: {_first_error(exc)}") from None


def _first_error(exc: pydantic.ValidationError) -> str:
    """The first problem in one line; the key is prefixed unless the message already names it."""
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    named = where and (message.startswith(where) or message.startswith(to_camel(where)))
    return message if not where or named else f"{where}: {message}"


def parse_sim_options(items: list[str]) -> dict[str, Any]:
    """--sim KEY=VALUE pairs as LocalServer keyword arguments (numbers parsed)."""
    options: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--sim expects KEY=VALUE, got {item!r}")
        value: Any = raw
        for cast in (int, float):
            try:
                value = cast(raw)
                break
            except ValueError:
                continue
        options[key.strip().replace("-", "_")] = value
    return options


def choose_slo(args: argparse.Namespace) -> SloSpec:
    """--slo file, else the stack's block, else DEFAULT_SLO; then --min-samples."""
    if args.slo is not None:
        slo = load_slo_file(args.slo)
    elif args.stack:
        slo = load_stack_slo(args.stack)
    else:
        slo = DEFAULT_SLO
    if args.min_samples is not None:
        slo = SloSpec.model_validate({**slo.model_dump(), "min_samples": args.min_samples})
    return slo


def Progress(console: Console, slo: SloSpec) -> ProgressPrinter:
    """The live progress display (a status line on a terminal, a plain line every 10 s otherwise)."""
    return ProgressPrinter(console, slo.warmup_s + slo.duration_s)


def local_model(args: argparse.Namespace) -> dict[str, str]:
    """With --stack, the simulator serves the name of the release taking the most traffic there."""
    if not args.stack:
        return {}
    from gpufleet.core.config import load_stack

    cfg = load_stack(args.stack)
    weights = cfg.traffic.release_weights if cfg.traffic else {}
    name = max(cfg.releases, key=lambda r: (weights.get(r, 0), r == next(iter(cfg.releases))))
    release = cfg.releases[name]
    return {"model": release.served_model_name or release.model.lower()}


def execute(args: argparse.Namespace, console: Console) -> LoadTestReport:
    slo = choose_slo(args)
    if args.from_run is not None:
        try:
            run = read_run(args.from_run)
        except (OSError, ValueError) as exc:  # no usable results: the run is invalid, not a usage error
            return judge_run(None, slo, target="unknown", harness_error=f"cannot read the run: {exc}")
        effective = with_load(slo, users=run.users, rate=run.rate, duration_s=run.duration_s,
                              warmup_s=run.warmup_s, workload=run.workload or None)
        processes = max(1, len(run.processes))
        return judge_run(run, effective, target=run.target, model=run.model, processes=processes)
    if args.processes < 1:
        raise UsageError(f"--processes must be at least 1, got {args.processes}")
    overrides = dict(users=args.users, rate=args.rate, duration_s=args.duration, warmup_s=args.warmup,
                     workload=args.workload)
    effective = with_load(slo, **overrides)
    try:
        check_workload(effective.workload)  # before the simulator starts or any traffic is sent
    except HarnessError as exc:
        raise UsageError(str(exc)) from None
    gate_args = dict(overrides, processes=args.processes, allow_remote=args.allow_remote,
                     timeout_s=args.timeout, stall_timeout_s=args.stall_timeout)
    with Progress(console, effective) if not args.quiet else _NoProgress() as progress:
        if args.host:
            return run_gate(args.host, args.model, slo, on_progress=progress.update, **gate_args)
        from gpufleet.simserver.launch import LocalServer

        try:
            server = LocalServer(**{**local_model(args), **parse_sim_options(args.sim)})
        except (TypeError, ValueError) as exc:
            raise UsageError(f"--sim: {exc}") from None
        try:
            server.start()
        except (RuntimeError, TimeoutError) as exc:
            return judge_run(None, effective, target="local simulator", processes=args.processes,
                             harness_error=f"the local simulator did not start: {exc}")
        from gpufleet.moderation.local_stage import stage_in_front
        try:  # a stack with a moderation stage is measured through it, as its clients reach it
            with stage_in_front(args.stack, server.url) as url:
                return run_gate(url, args.model or server.model, slo, on_progress=progress.update, **gate_args)
        finally:
            server.stop()


class _NoProgress:
    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, progress: dict[str, Any]) -> None:
        return None


def write_outputs(report: LoadTestReport, args: argparse.Namespace) -> None:
    if args.json:
        write_json(report, args.json)
    if args.json_line:
        sys.stdout.write(REPORT_PREFIX + json.dumps(report.to_dict(), ensure_ascii=False, allow_nan=False) + "\n")
        sys.stdout.flush()
    if args.html:
        write_html(report, args.html)
    if args.csv:
        write_csv(report.run.records if report.run is not None else (), args.csv)
    if args.save_run and report.run is not None:
        write_run(report.run, args.save_run)


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    if args.host is not None and not args.host.strip():  # e.g. an unset $TARGET: never fall back to the simulator
        print("error: --host is empty; give the endpoint's base URL (e.g. http://127.0.0.1:8000) or use --local",
              file=sys.stderr)
        return EXIT_USAGE
    if args.host and args.local:
        print("error: give either --host or --local, not both", file=sys.stderr)
        return EXIT_USAGE
    if args.sim and args.host:
        print("error: --sim only applies to --local", file=sys.stderr)
        return EXIT_USAGE
    try:
        report = execute(args, console)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TargetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except pydantic.ValidationError as exc:
        print(f"error: SLO: {_first_error(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:  # StackConfigError, unreadable --from-run, bad load overrides
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # a bug must not look like a verdict on the server: invalid
        print(f"error: the load test harness failed: {exc!r}", file=sys.stderr)
        return EXIT_INVALID
    try:
        write_outputs(report, args)
    except OSError as exc:
        print(f"error: cannot write report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not args.quiet:
        for line in summary_lines(report):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    return EXIT_CODES.get(report.gate.verdict, EXIT_INVALID)


def main(argv: list[str] | None = None) -> int:
    """Run only this command (handy for tests and `python -m`)."""
    parser = argparse.ArgumentParser(prog="gpufleet")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["loadtest", *(argv or [])])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
