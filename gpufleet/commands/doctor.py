"""`gpufleet doctor`: preflight a stack's account before `pulumi up` (either phase).

Each failure is one line naming what is missing and the command or console page
that fixes it. `--recorded DIR` replays recorded API responses (tests, demo);
without it the checks ask the clouds (boto3, the aliyun CLI).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="preflight a stack: service roles, GPU quota, version, images, weights",
                       description="Check what a first `pulumi up` needs and Pulumi cannot create: service roles "
                                   "and authorisations, GPU quota at the pools' max size, the Kubernetes version "
                                   "offered, and (workloads phase) the pinned images in the registry and the "
                                   "weights in the bucket. Exit 0 all ok, 1 any check failed, 2 usage error.")
    p.add_argument("--stack", required=True, metavar="NAME")
    p.add_argument("--phase", choices=("platform", "workloads"), default="workloads",
                   help="platform: account checks only; workloads (default): also images and weights")
    p.add_argument("--outputs", type=Path, metavar="FILE",
                   help="the platform stack's `pulumi stack output --json` (default: DIR/stack-outputs.json "
                        "with --recorded)")
    p.add_argument("--recorded", type=Path, metavar="DIR", help="replay recorded API responses from DIR")
    p.add_argument("--root", type=Path, default=None, metavar="DIR", help="project root whose stacks/ to read")
    p.set_defaults(func=run)


def _outputs(args: argparse.Namespace) -> dict | None:
    path = args.outputs or (args.recorded / "stack-outputs.json" if args.recorded else None)
    if path is None or not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def run(args: argparse.Namespace) -> int:
    from gpufleet.core.config import load_stack
    from gpufleet.core.errors import StackConfigError
    from gpufleet.doctor.api import LIVE_CLIENTS, ApiError, DoctorUnavailable, RecordedApi
    from gpufleet.doctor.run import run_checks

    try:
        cfg = load_stack(args.stack, root=args.root)
        if args.recorded:
            api = RecordedApi(args.recorded)
        else:
            api = LIVE_CLIENTS[cfg.cloud](cfg.region)
        findings = run_checks(cfg, api, args.phase, _outputs(args))
    except StackConfigError as exc:
        print(f"gpufleet: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (DoctorUnavailable, ApiError) as exc:
        print(f"gpufleet: stack '{args.stack}': doctor cannot check: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for f in findings:
        print(f.line())
    bad = [f for f in findings if not f.ok]
    print(f"{args.stack} ({args.phase} phase): {len(findings) - len(bad)} ok, {len(bad)} failed")
    return EXIT_FAIL if bad else EXIT_OK
