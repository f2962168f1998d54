"""The `gpufleet` console command: everything that is not `pulumi` itself.

Each subcommand lives in its own module under `gpufleet.commands` and exposes
`register(subparsers)`; this file only wires them together so that features
can be added without touching each other.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Order is the order shown in --help.
COMMAND_MODULES = (
    "preview",
    "cost",
    "loadtest",
    "promote",
    "plan",
    "prices",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gpufleet",
        description="Offline preview, load-test gate, promotion and cost reports for gpufleet stacks.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"gpufleet.commands.{name}")
        except ModuleNotFoundError as exc:  # a command not built yet
            if exc.name != f"gpufleet.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
