"""`gpufleet plan`: sweep one replica to its SLO knee, then size the fleet for a peak and price it.

Exit codes: 0 a plan (written with --write), 1 no rate passed or the plan is
refused (a cloud ceiling, the stack's rules, a failing preview), 2 usage or
config error, 3 the sweep could not measure (an invalid point, e.g. a
saturated client): no knee is ever taken from an invalid measurement (at most
a lower bound from the valid points, which is printed but never written).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gpufleet.plan.fleet import REDUNDANCY_MODES

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_INVALID = 0, 1, 2, 3


class UsageError(Exception):
    """A problem with the command line (exit 2)."""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "plan", help="capacity plan from measurement: knee per replica -> replicas, GPU nodes, limits, cost",
        description="Sweep the open-loop rate against one replica to the highest rate the stack's SLO gate "
                    "passes (the knee), then turn --peak-rps into replicas, GPU nodes, node-pool and replica "
                    "limits and monthly cost. --local rehearses on the simulator. Exit 0 plan, 1 refused or "
                    "no passing rate, 2 usage/config error, 3 invalid measurement.")
    p.add_argument("--stack", required=True, help="stack whose SLO, GPU pool and prices to use")
    p.add_argument("--release", required=True, help="release under gpufleet:releases to plan")
    p.add_argument("--peak-rps", type=float, required=True, help="requests/s the release must serve at peak")
    p.add_argument("--avg-rps", type=float, help="average requests/s (default: the peak)")
    p.add_argument("--headroom", type=float, default=0.3, help="spare capacity per replica (default 0.3 = 30%%)")
    p.add_argument("--redundancy", choices=REDUNDANCY_MODES, default="zone",
                   help="survive the loss of a zone (default), of one replica (N+1), or nothing")
    target = p.add_argument_group("target (one replica)")
    target.add_argument("--local", action="store_true", help="rehearse on the local simulator (the default)")
    target.add_argument("--host", help="base URL of ONE deployed replica (e.g. a kubectl port-forward)")
    target.add_argument("--host-replicas", type=int, default=1,
                        help="replicas behind --host; the knee is divided by it (default 1)")
    target.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")
    target.add_argument("--model", help="model name to request (default: the first /v1/models lists)")
    target.add_argument("--sim-profile", help="simulator profile for --local (default: matched to the release)")
    sweep = p.add_argument_group("sweep")
    sweep.add_argument("--start-rps", type=float, help="first rate (default: the SLO's targetRate, else 1)")
    sweep.add_argument("--max-rps", type=float, help="highest rate tried (default: 64 x the start)")
    sweep.add_argument("--min-rps", type=float, help="lowest rate tried (default: the start / 16)")
    sweep.add_argument("--resolution", type=float, default=0.1, help="stop when the bracket is within this share "
                                                                      "of the knee (default 0.1)")
    sweep.add_argument("--max-points", type=int, default=12, help="at most this many points (default 12)")
    sweep.add_argument("--point-duration", type=float, help="measured seconds per point (default: the SLO's "
                                                            "durationS; stretched to reach minSamples)")
    sweep.add_argument("--warmup", type=float, help="warm-up seconds per point (default: the SLO's warmupS)")
    sweep.add_argument("--min-samples", type=int, help="override the SLO's minSamples (short rehearsals)")
    sweep.add_argument("--processes", type=int, default=1, help="Locust processes per point (default 1)")
    sweep.add_argument("--timeout", type=float, default=60.0, help="seconds one request may take (default 60)")
    out = p.add_argument_group("output")
    out.add_argument("--json", type=Path, metavar="PATH",
                     help="write the plan document (default: out/plan-STACK-RELEASE.json)")
    out.add_argument("--html", type=Path, metavar="PATH",
                     help="write the plan page, curves and cost table (default: out/plan-STACK-RELEASE.html)")
    out.add_argument("--write", action="store_true", help="write the plan into the stack file (diff shown first; "
                                                          "only when the result previews cleanly)")
    out.add_argument("--root", type=Path, help="project root whose stacks/ to read (default: this checkout)")
    out.add_argument("--quiet", action="store_true", help="no per-point progress lines")
    p.set_defaults(func=run)


def _positive(name: str, value: float | int | None) -> None:
    if value is not None and not value > 0:
        raise UsageError(f"{name} must be > 0, got {value:g}")


def check_args(args: argparse.Namespace) -> None:
    if args.host and args.local:
        raise UsageError("give either --host or --local, not both")
    if args.sim_profile and args.host:
        raise UsageError("--sim-profile only applies to --local")
    for name in ("peak_rps", "avg_rps", "start_rps", "max_rps", "min_rps", "point_duration", "timeout"):
        _positive("--" + name.replace("_", "-"), getattr(args, name))
    for name in ("host_replicas", "processes", "min_samples"):
        _positive("--" + name.replace("_", "-"), getattr(args, name))
    if args.avg_rps is not None and args.avg_rps > args.peak_rps:
        raise UsageError(f"--avg-rps ({args.avg_rps:g}) must not exceed --peak-rps ({args.peak_rps:g})")
    if not 0 <= args.headroom <= 4:
        raise UsageError(f"--headroom is a share of a replica's knee between 0 and 4 (0.3 = 30%), got {args.headroom:g}")
    if args.warmup is not None and args.warmup < 0:
        raise UsageError(f"--warmup must be >= 0, got {args.warmup:g}")


def default_outputs(args: argparse.Namespace) -> None:
    """Without --json/--html the plan still leaves its record, under out/ like the demo's reports."""
    stem = Path("out") / f"plan-{args.stack}-{args.release}"
    args.json = args.json or stem.with_suffix(".json")
    args.html = args.html or stem.with_suffix(".html")


def run(args: argparse.Namespace) -> int:
    from gpufleet.commands.plan_run import execute

    try:
        check_args(args)
        default_outputs(args)
        return execute(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpufleet")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["plan", *(argv or [])])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
