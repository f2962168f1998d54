"""`gpufleet cost`: monthly cost of every stack, as a table or a finance report.

Inputs come only from the stack files, through `gpufleet.core.config.load_stack` and
`gpufleet.core.cost_inputs.cost_inputs_for` (imported when needed), or with
`--from-deployed` from each deployed stack's `cost` output. Exit codes: 0 ok,
1 a cost could not be computed (missing price, bad report), 2 the command
cannot run here (missing tool or module, bad arguments, an invalid stack file).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Callable, Mapping, Sequence

from gpufleet.core.cost.catalog import PRICES_DIR, PriceCatalog, PriceCatalogError, PriceNotFoundError, load_fx, load_price_catalog
from gpufleet.core.cost.compute import compute_stack_cost
from gpufleet.cost.diff import diff_costs
from gpufleet.cost.gitrev import GitError, stack_names_at, stack_text_at
from gpufleet.core.cost.model import CostInputError, FxRate, StackCost, to_decimal
from gpufleet.core.cost.outputs import OutputsError, stack_cost_from_outputs
from gpufleet.core.cost.per_token import LoadTestReportError, TokenCost, cost_per_million_tokens, load_loadtest_report
from gpufleet.cost.render import FORMATS, print_table, render, render_diff_markdown

from gpufleet.commands._errors import CannotRun  # noqa: E402  (shared by the commands)


class CostFailed(RuntimeError):
    """A cost could not be computed (exit 1); str() is one line."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "cost",
        help="monthly cost per stack: table, csv, json, markdown or html; --diff REV for pull requests",
        description="Monthly cost of each stack at its desired size and autoscaling maximum "
                    "(730 hours a month), in its billing currency and in USD.",
    )
    p.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    p.add_argument("--output", type=Path, metavar="PATH", help="write the report to PATH instead of stdout")
    p.add_argument("--stack", action="append", dest="stacks", metavar="NAME", help="only this stack (repeatable)")
    p.add_argument("--diff", metavar="REV", help="markdown comment: monthly change from git revision REV to the working tree")
    p.add_argument("--loadtest", action="append", default=[], metavar="STACK=PATH",
                   help="load-test report for a stack's cost per 1M output tokens (repeatable)")
    p.add_argument("--from-deployed", action="store_true",
                   help="read each deployed stack's `cost` output (needs the Pulumi CLI) instead of the stack files")
    p.add_argument("--lines", action="store_true", help="table format: also show every line item")
    p.add_argument("--prices", type=Path, default=PRICES_DIR, metavar="DIR", help="price catalog directory")
    p.add_argument("--cny-per-usd", metavar="RATE", help="override the configured CNY/USD rate (needs --fx-as-of)")
    p.add_argument("--fx-as-of", metavar="YYYY-MM-DD", help="date of the --cny-per-usd rate")
    p.set_defaults(func=run)


# ---------------------------------------------------------------- argument helpers


def parse_loadtest_args(values: Sequence[str]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for value in values:
        stack, sep, path = value.partition("=")
        if not sep or not stack or not path:
            raise CannotRun(f"--loadtest must be STACK=PATH; got {value!r}")
        if stack in out:
            raise CannotRun(f"--loadtest given twice for stack {stack!r}")
        out[stack] = Path(path)
    return out


def fx_from_args(rate: str | None, as_of: str | None, prices_dir: Path) -> FxRate:
    if rate is None and as_of is None:
        from gpufleet.core.cost_inputs import project_fx  # the project-wide rate in Pulumi.yaml
        return project_fx()
    if rate is None or as_of is None:
        raise CannotRun("--cny-per-usd and --fx-as-of go together (a rate always carries its date)")
    try:
        day = date.fromisoformat(as_of)
    except ValueError:
        raise CannotRun(f"--fx-as-of must be a date like 2026-11-01; got {as_of!r}") from None
    try:
        return FxRate(to_decimal(rate, "--cny-per-usd"), day, "command line (--cny-per-usd)")
    except CostInputError as exc:
        raise CannotRun(str(exc)) from None


# ---------------------------------------------------------------- inputs


def _config_functions() -> tuple[Callable[..., object], Callable[[], list[str]], Callable[[object], object]]:
    """The stack-config readers, imported when a report needs them (keeps `--help` fast)."""
    from gpufleet.core.config import list_stacks, load_stack
    from gpufleet.core.cost_inputs import cost_inputs_for
    return load_stack, list_stacks, cost_inputs_for


def _stack_errors() -> tuple[type[BaseException], ...]:
    from gpufleet.core.errors import ConfigError, StackConfigError

    return (StackConfigError, ConfigError)


def costs_from_config(
    names: Sequence[str], catalog: PriceCatalog, fx: FxRate, text_of: Callable[[str], str | None] = lambda _: None
) -> dict[str, StackCost]:
    """Price each named stack from its file (or from `text_of(name)`, e.g. a git revision)."""
    load_stack, _, cost_inputs_for = _config_functions()
    costs = {}
    for name in names:
        try:
            inputs = cost_inputs_for(load_stack(name, text_of(name)))
        except _stack_errors() as exc:  # bad config: nothing could be priced, a usage error like the others
            raise CannotRun(str(exc)) from None
        costs[name] = compute_stack_cost(inputs, catalog, fx)  # type: ignore[arg-type]
    return costs


def stack_names(selected: Sequence[str] | None) -> list[str]:
    if selected:
        from gpufleet.core.project import find_project

        project = find_project()
        return list(dict.fromkeys(project.stack_name(s) for s in selected))
    _, list_stacks, _ = _config_functions()
    names = list_stacks()
    if not names:
        raise CannotRun("no stacks found (Pulumi.<stack>.yaml in the project's stackConfigDir)")
    return names


def pulumi_work_dir(root: Path) -> Path:
    """Where Pulumi.yaml lives: the project found from `root` upward, as pulumi finds it."""
    from gpufleet.core.project import ProjectError, find_project

    try:
        return find_project(root).root
    except ProjectError as exc:
        raise CannotRun(str(exc)) from None


def costs_from_deployed(names: Sequence[str], root: Path, which: Callable[[str], str | None] | None = None) -> dict[str, StackCost]:
    if (which or shutil.which)("pulumi") is None:
        raise CannotRun("--from-deployed needs the Pulumi CLI (pulumi not found on PATH)")
    from pulumi import automation as auto

    work_dir = str(pulumi_work_dir(root))
    costs = {}
    for name in names:
        try:
            outputs = auto.select_stack(stack_name=name, work_dir=work_dir).outputs()
        except auto.errors.CommandError as exc:
            raise CannotRun(f"pulumi could not read stack '{name}': {str(exc).strip().splitlines()[-1]}") from None
        if "cost" not in outputs:
            raise CostFailed(f"stack '{name}' has no 'cost' output (run pulumi up first)")
        try:
            costs[name] = stack_cost_from_outputs(outputs["cost"].value)
        except OutputsError as exc:
            raise CostFailed(f"stack '{name}': {exc}") from None
    return costs


def token_costs(costs: Mapping[str, StackCost], reports: Mapping[str, Path]) -> dict[str, TokenCost]:
    out = {}
    for stack, path in reports.items():
        if stack not in costs:
            raise CannotRun(f"--loadtest names stack '{stack}', which is not in this report (stacks: {', '.join(costs)})")
        out[stack] = cost_per_million_tokens(costs[stack], load_loadtest_report(path))
    return out


# ---------------------------------------------------------------- diff


def _stacks_dir_in(root: Path) -> str:
    """The project's stackConfigDir relative to `root`, as git paths relative to it take it."""
    from gpufleet.core.project import find_project

    project = find_project(root)
    try:
        return project.stack_config_dir.relative_to(Path(root).resolve()).as_posix() or "."
    except ValueError:
        raise CannotRun(f"--diff: the stackConfigDir {project.stack_config_dir} is outside the project") from None


def diff_report(rev: str, selected: Sequence[str] | None, catalog: PriceCatalog, fx: FxRate, root: Path) -> str:
    """Both sides priced with the working tree's catalog, so the diff shows config changes only."""
    _, list_stacks, _ = _config_functions()
    after_names = [n for n in list_stacks() if not selected or n in selected]
    stacks_dir = _stacks_dir_in(root)
    before_names = [n for n in stack_names_at(rev, root, stacks_dir) if not selected or n in selected]
    try:
        before = costs_from_config(before_names, catalog, fx, lambda name: stack_text_at(rev, name, root, stacks_dir))
    except (CostFailed, PriceNotFoundError) as exc:
        raise CostFailed(f"at {rev}: {exc}") from None
    except CannotRun as exc:
        raise CannotRun(f"at {rev}: {exc}") from None
    after = costs_from_config(after_names, catalog, fx)
    return render_diff_markdown(diff_costs(before, after), rev)


# ---------------------------------------------------------------- run


def project_root() -> Path:
    """The user's project: Pulumi.yaml from the current directory upward (`-C DIR` moves the start)."""
    from gpufleet.core.project import find_project

    return find_project().root


@dataclass(frozen=True)
class _Output:
    text: str | None  # None: already printed to the console


def _report(args: argparse.Namespace) -> _Output:
    catalog = load_price_catalog(args.prices)
    fx = fx_from_args(args.cny_per_usd, args.fx_as_of, args.prices)
    reports = parse_loadtest_args(args.loadtest)
    if args.diff:
        if args.from_deployed:
            raise CannotRun("--diff compares stack files; it cannot be combined with --from-deployed")
        if args.format not in ("table", "markdown"):
            raise CannotRun("--diff renders a markdown comment; use --format markdown (or leave --format out)")
        if reports:
            raise CannotRun("--loadtest is not used with --diff")
        return _Output(diff_report(args.diff, args.stacks, catalog, fx, project_root()))
    names = stack_names(args.stacks)
    if reports:
        from gpufleet.core.project import find_project

        project = find_project()
        reports = {project.stack_name(stack): path for stack, path in reports.items()}
    costs = costs_from_deployed(names, project_root()) if args.from_deployed else costs_from_config(names, catalog, fx)
    tokens = token_costs(costs, reports)
    ordered = [costs[n] for n in names]
    if args.format == "table" and args.output is None:
        from rich.console import Console

        print_table(Console(), ordered, tokens, args.lines)
        return _Output(None)
    return _Output(render(args.format, ordered, tokens, args.lines))


def run(args: argparse.Namespace) -> int:
    try:
        out = _report(args)
    except (CannotRun, GitError) as exc:
        print(f"gpufleet cost: {exc}", file=sys.stderr)
        return 2
    except (CostFailed, PriceNotFoundError, PriceCatalogError, LoadTestReportError, CostInputError, OutputsError) as exc:
        print(f"gpufleet cost: {exc}", file=sys.stderr)
        return 1
    if out.text is not None:
        if args.output is None:
            sys.stdout.write(out.text)
        else:
            args.output.write_text(out.text, encoding="utf-8")
            print(f"gpufleet cost: wrote {args.output}", file=sys.stderr)
    return 0
