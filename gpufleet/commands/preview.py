"""`gpufleet preview`: the real program per stack under the mock engine; no cloud, no Pulumi CLI."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_OK, EXIT_POLICY, EXIT_INVALID = 0, 1, 2


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("preview", help="offline preview of one or all stacks (no cloud account needed)",
                       description="Evaluate the Pulumi program per stack with the SDK's mock engine and "
                                   "summarise what `pulumi up` would create, with the compliance policy "
                                   "results and the cost. Exit 0 when every stack is valid and passes every "
                                   "mandatory policy, 1 on a mandatory policy violation, 2 when any stack's "
                                   "config is invalid.")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--stack", action="append", metavar="NAME", help="stack to preview (repeatable)")
    target.add_argument("--all", action="store_true", help="preview every stack of the project (its stackConfigDir)")
    p.add_argument("--json", action="store_true", help="print a machine-readable document instead of tables")
    p.add_argument("--root", dest="cwd", default=argparse.SUPPRESS, metavar="DIR",
                   help="same as -C DIR: the project found from DIR upward (default: the current directory)")
    p.add_argument("--policy-pack-config", type=Path, default=None, metavar="FILE",
                   help="policy settings, the same file `pulumi preview --policy-pack-config` takes")
    p.set_defaults(func=run)


def policy_cell(results) -> str:
    """'pass' or e.g. '2 mandatory, 1 advisory' for the summary table."""
    mandatory = sum(r.level == "mandatory" for r in results)
    if not results:
        return "pass"
    return f"{mandatory} mandatory, {len(results) - mandatory} advisory"


def run(args: argparse.Namespace) -> int:
    from gpufleet.core.project import find_project
    from gpufleet.preview.engine import prepare, preview_stack
    from gpufleet.observability.preview import observability_json, observability_section

    from gpufleet.policy_runner import (
        has_mandatory_violation, load_pack_config, preview_section, run_policies_for_previews,
    )

    project = find_project()
    stacks = project.list_stacks() if args.all else [project.stack_name(s) for s in args.stack]
    if not stacks:
        print(f"gpufleet preview: no stack files (Pulumi.<stack>{project.stack_extension}) in "
              f"{project.stack_config_dir}; create one with `pulumi stack init`", file=sys.stderr)
        return EXIT_INVALID
    prepare()
    previews = [preview_stack(s, root=project.root) for s in stacks]
    pack_config = load_pack_config(args.policy_pack_config) if args.policy_pack_config else None
    policies = run_policies_for_previews(previews, root=project.root, policy_config=pack_config)
    if args.json:
        doc = {"stacks": [{**p.as_json(), "policies": [r.as_json() for r in policies.get(p.stack, [])],
                           "observability": observability_json(p)} for p in previews]}
        json.dump(doc, sys.stdout, indent=2, sort_keys=True, default=str)
        sys.stdout.write("\n")
    else:
        from gpufleet.preview.summary import render
        render(previews, extra_sections=[preview_section(policies), observability_section],
               policy_summary={p.stack: policy_cell(policies[p.stack]) for p in previews if p.ok})
    for p in previews:
        if not p.ok:
            print(f"gpufleet: {p.error}", file=sys.stderr)
    if not all(p.ok for p in previews):
        return EXIT_INVALID
    failing = [s for s, results in policies.items() if has_mandatory_violation(results)]
    for stack in failing:
        print(f"gpufleet: stack '{stack}': mandatory policy violations (see the policy table)", file=sys.stderr)
    return EXIT_POLICY if failing else EXIT_OK
