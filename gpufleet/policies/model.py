"""The shapes every rule shares: resources, violations, stack context and policy specs.

Rules are plain functions over plain data (dicts, lists, strings), so the same
function runs inside Pulumi's analyzer and over the offline engine's resources.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Literal, Mapping, Sequence

from gpufleet.core.compliance_config import ComplianceConfig

Level = Literal["mandatory", "advisory"]
Scope = Literal["resource", "stack"]
LEVELS: tuple[str, ...] = ("mandatory", "advisory")


class _Unknown:
    """A value Pulumi cannot know during preview (an output of a resource not yet created)."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN: Any = _Unknown()


def is_unknown(value: Any) -> bool:
    return isinstance(value, _Unknown)


def package_of(resource_type: str) -> str:
    """'aws' for 'aws:s3/bucket:Bucket'; the provider's package for 'pulumi:providers:aws'."""
    if resource_type.startswith("pulumi:providers:"):
        return resource_type.rsplit(":", 1)[-1]
    return resource_type.split(":", 1)[0]


@dataclass(frozen=True)
class Resource:
    """One registered resource: Pulumi type token, logical name and inputs (camelCase wire names)."""

    type: str
    name: str
    props: Mapping[str, Any]
    urn: str | None = None

    @property
    def package(self) -> str:
        return package_of(self.type)


@dataclass(frozen=True)
class Violation:
    """A stack rule's finding; `resource` is None when the stack as a whole is at fault."""

    message: str
    resource: Resource | None = None


@dataclass(frozen=True)
class StackContext:
    """What a rule may know about the stack being checked. None means unknown."""

    stack: str | None
    cloud: str | None
    region: str | None
    jurisdiction: str | None
    compliance: ComplianceConfig = field(default_factory=ComplianceConfig)
    environment: str | None = None  # prod, staging, dev (gpufleet:environment or the resources' tag)
    today: date = field(default_factory=date.today)
    # Set when `gpufleet:compliance` could not be read; the China rules report it.
    compliance_error: str | None = None
    # The stack's raw config ('namespace:key' -> value), secrets masked; empty when unknown.
    config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PolicyContext:
    """The stack context plus this policy's own settings (config schema defaults merged)."""

    stack: StackContext
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def jurisdiction(self) -> str | None:
        return self.stack.jurisdiction


ResourceRule = Callable[[str, Mapping[str, Any], PolicyContext], list[str]]
StackRule = Callable[[Sequence[Resource], PolicyContext], list[Violation]]


@dataclass(frozen=True)
class PolicySpec:
    """One policy: id, why it exists, where that comes from (source), how strict (level).

    What it checks is the first line of its rule's docstring, so the check and its
    summary live side by side.

    `config` is the JSON-schema `properties` of the policy's settings; each property
    carries a `default`, which is what the rule sees when nothing is configured.
    """

    id: str
    why: str
    source: str
    level: Level
    scope: Scope
    validate: ResourceRule | StackRule
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def what(self) -> str:
        doc = (self.validate.__doc__ or "").strip()
        return " ".join(doc.split("\n\n")[0].split())

    @property
    def description(self) -> str:
        """What Pulumi shows: what is checked, why, and the citation."""
        return f"{self.what} {self.why} Source: {self.source}."

    def defaults(self) -> dict[str, Any]:
        return {name: prop["default"] for name, prop in self.config.items() if "default" in prop}
