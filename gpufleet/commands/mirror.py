"""`gpufleet mirror`: copy the stack's pinned images and chart into its registry, verified by digest."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mirror", help="copy pinned images and charts into the stack's registry (by digest)",
                       description="Between the platform and the workloads phase: copy every image the workloads "
                                   "phase pulls from the stack's registry (China: every image and the gateway "
                                   "chart) with skopeo, keeping digests, and verify each. Log in first "
                                   "(`skopeo login`). Exit 0 done, 1 a copy or check failed, 2 usage error.")
    p.add_argument("--stack", required=True, metavar="NAME")
    p.add_argument("--outputs", type=Path, metavar="FILE", help="the platform stack's `pulumi stack output --json`")
    p.add_argument("--registry", metavar="HOST/PATH", help="registry URL (default: the platform's registryUrl)")
    p.add_argument("--public-endpoint", action="store_true",
                   help="ACR: push through the instance's public endpoint (outside the VPC)")
    p.add_argument("--dry-run", action="store_true", help="print the copies, copy nothing")
    p.add_argument("--root", type=Path, default=None, metavar="DIR")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gpufleet.commands._platform_outputs import NoOutputs, platform_outputs
    from gpufleet.core.config import load_stack
    from gpufleet.core.project import find_project
    from gpufleet.core.errors import StackConfigError
    from gpufleet.core.artifacts import stack_artifacts
    from gpufleet.stage.mirror import MirrorError, mirror, plan_copies

    try:
        cfg = load_stack(args.stack, root=args.root)
        registry = args.registry or platform_outputs(args.stack, args.outputs, find_project(args.root).root)["registryUrl"]
    except (StackConfigError, NoOutputs) as exc:
        print(f"gpufleet: {exc}" if "stack '" in str(exc) else f"gpufleet: stack '{args.stack}': {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyError:
        print(f"gpufleet: stack '{args.stack}': the platform outputs have no registryUrl", file=sys.stderr)
        return EXIT_USAGE
    if args.public_endpoint:
        registry = registry.replace("-registry-vpc.", "-registry.", 1)
    copies = plan_copies(stack_artifacts(cfg), registry)
    if args.dry_run:
        for c in copies:
            print(c.line())
        return EXIT_OK
    try:
        mirror(copies)
    except MirrorError as exc:
        print(f"gpufleet: stack '{args.stack}': mirror: {exc}", file=sys.stderr)
        return EXIT_FAIL
    print(f"{args.stack}: {len(copies)} artifacts in {registry}, digests verified")
    return EXIT_OK
