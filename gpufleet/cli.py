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


EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:  # every command: one line and 130, never a traceback (promote logs it first)
        print(f"gpufleet {args.command}: interrupted (Ctrl-C)", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
