"""Run the CrossGuard pack's policies over an offline preview: violations with no cloud account.

The rules are the ones `pulumi preview --policy-pack policy` runs (gpufleet/policies);
here they see the resources the mock engine registered, with the stack's validated
config as context, and the same `--policy-pack-config` semantics for levels and settings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table


from gpufleet.core.compliance_config import ComplianceConfig
from gpufleet.policies.context import context_from_config, context_from_resources
from gpufleet.policies.model import UNKNOWN, PolicyContext, PolicySpec, Resource, StackContext
from gpufleet.policies.registry import BY_ID, POLICIES
from gpufleet.policies.settings import (
    PackConfig,
    check_pack_config,
    effective_level,
    policy_settings,
)

if TYPE_CHECKING:
    from gpufleet.preview.engine import StackPreview
    from gpufleet.core.config import StackConfig

OFFLINE_UNKNOWN = "[unknown]"  # how gpufleet.preview.engine prints values not known at preview


@dataclass(frozen=True)
class PolicyResult:
    """One violation: which policy, which resource (None: the stack as a whole), how strict, what."""

    policy: str
    resource: str | None
    level: str
    message: str
    resource_type: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"policy": self.policy, "resource": self.resource, "resourceType": self.resource_type,
                "level": self.level, "message": self.message}


def _restore_unknowns(value: Any) -> Any:
    if value == OFFLINE_UNKNOWN:
        return UNKNOWN
    if isinstance(value, dict):
        return {k: _restore_unknowns(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore_unknowns(v) for v in value]
    return value


def resources_of(preview: "StackPreview") -> list[Resource]:
    """The preview's registrations as policy resources (component resources included; rules skip them)."""
    return [Resource(r.type, r.name, _restore_unknowns(r.inputs)) for r in preview.resources]


def stack_context(preview: "StackPreview", cfg: "StackConfig | None", *, compliance: ComplianceConfig | None = None,
                  today: date | None = None) -> StackContext:
    """From the validated config when there is one, else from the resources' tags and the stack's exports."""
    if cfg is not None:
        return context_from_config(cfg, today=today, compliance=compliance)
    return context_from_resources(resources_of(preview), outputs=preview.outputs, today=today, compliance=compliance)


def _run_one(spec: PolicySpec, level: str, resources: Sequence[Resource], ctx: PolicyContext) -> list[PolicyResult]:
    if spec.scope == "stack":
        return [PolicyResult(spec.id, v.resource.name if v.resource else None, level, v.message,
                             v.resource.type if v.resource else None)
                for v in spec.validate(resources, ctx)]  # type: ignore[call-arg]
    return [PolicyResult(spec.id, r.name, level, message, r.type)
            for r in resources for message in spec.validate(r.type, r.props, ctx)]  # type: ignore[call-arg]


def run_policies(preview: "StackPreview", cfg: "StackConfig | None" = None, *,
                 policy_config: PackConfig | None = None, compliance: ComplianceConfig | None = None,
                 today: date | None = None, policies: Sequence[PolicySpec] = POLICIES,
                 raw_config: Mapping[str, Any] | None = None) -> list[PolicyResult]:
    """Every violation of the stack's registered resources, mandatory first.

    `policy_config` has the shape of a `--policy-pack-config` file; `compliance` overrides
    the config's `gpufleet:compliance`; `today` pins the date for support-window rules.
    A preview whose config was invalid registered nothing and so has nothing to violate.
    """
    config = policy_config or {}
    check_pack_config(config, BY_ID)
    stack = stack_context(preview, cfg, compliance=compliance, today=today)
    if raw_config is not None:  # the stack file's values (secrets masked), for the plaintext-key scan
        stack = replace(stack, config=dict(raw_config))
    resources = resources_of(preview)
    results: list[PolicyResult] = []
    for spec in policies:
        level = effective_level(spec, config)
        if level == "disabled":
            continue
        results.extend(_run_one(spec, level, resources, PolicyContext(stack, policy_settings(spec, config))))
    order = {"mandatory": 0, "advisory": 1}
    return sorted(results, key=lambda r: (order.get(r.level, 2), r.policy, r.resource or ""))


def run_policies_for_previews(previews: Sequence["StackPreview"], *, root: Path | None = None,
                              policy_config: PackConfig | None = None,
                              today: date | None = None) -> dict[str, list[PolicyResult]]:
    """stack -> violations for each preview (what `gpufleet preview` shows); invalid stacks get []."""
    from gpufleet.core.config import load_stack, raw_stack_config, read_stack_text

    def raw(stack: str) -> dict[str, Any]:
        return raw_stack_config(read_stack_text(stack, root), root, stack=stack)[0]

    return {p.stack: run_policies(p, load_stack(p.stack, root=root), policy_config=policy_config, today=today,
                                  raw_config=raw(p.stack))
            if p.ok else [] for p in previews}


def has_mandatory_violation(results: Sequence[PolicyResult]) -> bool:
    """True when `pulumi up --policy-pack policy` would refuse this stack."""
    return any(r.level == "mandatory" for r in results)


def load_pack_config(path: Path) -> dict[str, Any]:
    """A `--policy-pack-config` JSON file, checked against the pack's policies and settings."""
    config = json.loads(path.read_text(encoding="utf-8"))
    check_pack_config(config, BY_ID)
    return config


# --------------------------------------------------------------------------- rendering


def policy_table(results: Sequence[PolicyResult], title: str = "Policy violations") -> Table | None:
    """A Rich table of violations, or None when there are none."""
    if not results:
        return None
    table = Table(title=title, show_edge=False, title_justify="left")
    table.add_column("level")
    table.add_column("policy")
    table.add_column("resource", overflow="fold")
    table.add_column("message", overflow="fold")
    for r in results:
        colour = "red" if r.level == "mandatory" else "yellow"
        table.add_row(f"[{colour}]{r.level}[/{colour}]", r.policy, escape(r.resource or "(stack)"), escape(r.message))
    return table


def summary_line(results: Sequence[PolicyResult]) -> str:
    mandatory = sum(r.level == "mandatory" for r in results)
    advisory = len(results) - mandatory
    return f"policies: {mandatory} mandatory, {advisory} advisory violation(s)"


def preview_section(results_by_stack: Mapping[str, Sequence[PolicyResult]]) -> Callable[[Any], Table | None]:
    """An `extra_sections` entry for gpufleet.preview.summary.render: the stack's violations."""
    def section(preview: Any) -> Table | None:
        results = results_by_stack.get(preview.stack, ())
        return policy_table(results, summary_line(results))

    return section


def render_policy_results(results_by_stack: Mapping[str, Sequence[PolicyResult]],
                          console: Console | None = None) -> None:
    """One table per stack with violations and a one-line count for every stack."""
    console = console or Console()
    for stack, results in results_by_stack.items():
        table = policy_table(results, f"{stack}: {summary_line(results)}")
        console.print(table if table is not None else f"[green]{escape(stack)}: no policy violations[/green]")
