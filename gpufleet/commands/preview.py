"""`gpufleet preview`: the real program per stack under the mock engine; no cloud, no Pulumi CLI."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_OK, EXIT_INVALID = 0, 2


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("preview", help="offline preview of one or all stacks (no cloud account needed)",
                       description="Evaluate the Pulumi program per stack with the SDK's mock engine and "
                                   "summarise what `pulumi up` would create. Exit 0 when every stack is valid, "
                                   "2 when any stack's config is invalid.")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--stack", action="append", metavar="NAME", help="stack to preview (repeatable)")
    target.add_argument("--all", action="store_true", help="preview every stack in stacks/")
    p.add_argument("--json", action="store_true", help="print a machine-readable document instead of tables")
    p.add_argument("--root", type=Path, default=None, metavar="DIR",
                   help="project root whose stacks/ to preview (default: this checkout)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from infra.config import list_stacks
    from gpufleet.preview.engine import prepare, preview_stack

    stacks = list_stacks(args.root) if args.all else args.stack
    prepare()
    previews = [preview_stack(s, root=args.root) for s in stacks]
    if args.json:
        json.dump({"stacks": [p.as_json() for p in previews]}, sys.stdout, indent=2, sort_keys=True, default=str)
        sys.stdout.write("\n")
    else:
        from gpufleet.preview.summary import render
        render(previews)
    for p in previews:
        if not p.ok:
            print(f"gpufleet: {p.error}", file=sys.stderr)
    return EXIT_OK if all(p.ok for p in previews) else EXIT_INVALID
