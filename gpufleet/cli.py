"""The `gpufleet` console command: everything that is not `pulumi` itself.

Each subcommand lives in its own module under `gpufleet.commands` and exposes
`register(subparsers)`; this file only wires them together so that features
can be added without touching each other.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# Order is the order shown in --help.
COMMAND_MODULES = (
    "preview",
    "cost",
    "loadtest",
    "promote",
    "plan",
    "prices",
    "doctor",
    "mirror",
    "weights",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gpufleet",
        description="Offline preview, load-test gate, promotion and cost reports for gpufleet stacks.",
    )
    add_cwd_option(parser, default=None)
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
    for command in sub.choices.values():
        add_cwd_option(command, default=argparse.SUPPRESS)  # `gpufleet preview -C DIR` too
    return parser


EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


def add_cwd_option(parser: argparse.ArgumentParser, default: object) -> None:
    """`-C/--cwd DIR`, as `pulumi -C`: run as if started in DIR (the project is found from there)."""
    if any("--cwd" in action.option_strings for action in parser._actions):
        return
    parser.add_argument("-C", "--cwd", dest="cwd", metavar="DIR", default=default,
                        help="run as if gpufleet had been started in DIR (as `pulumi -C`): the Pulumi project "
                             "is the nearest Pulumi.yaml from there upward")


def main(argv: list[str] | None = None) -> int:
    from gpufleet.core.project import ProjectError

    parser = build_parser()
    args = parser.parse_args(argv)
    previous = os.getcwd()
    try:
        if args.cwd is not None:
            try:
                os.chdir(args.cwd)
            except OSError as exc:
                print(f"gpufleet: -C {args.cwd}: {exc.strerror}; pass an existing project directory", file=sys.stderr)
                return 2
        return int(args.func(args) or 0)
    except ProjectError as exc:
        print(f"gpufleet {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # every command: one line and 130, never a traceback (promote logs it first)
        print(f"gpufleet {args.command}: interrupted (Ctrl-C)", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        os.chdir(previous)


if __name__ == "__main__":
    sys.exit(main())
