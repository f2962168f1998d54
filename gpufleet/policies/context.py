"""Per-stack context for the rules: jurisdiction, cloud, region, compliance declarations, today.

Three sources, best first: the stack's validated config (offline runner), the
stack's raw Pulumi config (inside the analyzer, see pack.py), and what the
resources say about themselves (their `jurisdiction`/`stack` tags and the
preview's exports) when nothing better is available.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any, Mapping, Sequence

from gpufleet.core import clouds
from gpufleet.core.compliance_config import ComplianceConfig

from .model import Resource, StackContext
from .props import tags_of

CLOUDS = clouds.NAMES


def context_from_config(cfg: Any, *, today: date | None = None,
                        compliance: ComplianceConfig | None = None) -> StackContext:
    """From a validated `gpufleet.core.config.StackConfig` (its `compliance` field once the config carries one)."""
    declared = compliance or getattr(cfg, "compliance", None) or ComplianceConfig()
    return StackContext(stack=cfg.stack, cloud=cfg.cloud, region=cfg.region, jurisdiction=cfg.jurisdiction,
                        compliance=declared, today=today or date.today(),
                        environment=getattr(cfg, "environment", None))


def _most_common(values: Sequence[str]) -> str | None:
    counted = Counter(v for v in values if v)
    return counted.most_common(1)[0][0] if counted else None


def context_from_resources(resources: Sequence[Resource], *, outputs: Mapping[str, Any] | None = None,
                           today: date | None = None, compliance: ComplianceConfig | None = None) -> StackContext:
    """Infer the stack from its resources' tags and the stack's exports (`jurisdiction`, `cloud`, `region`)."""
    outputs = outputs or {}
    tags = [tags_of(r.props) for r in resources]
    jurisdiction = outputs.get("jurisdiction") or _most_common([str(t.get("jurisdiction", "")) for t in tags])
    stack = _most_common([str(t.get("stack", "")) for t in tags])
    cloud = outputs.get("cloud") or _most_common([r.package for r in resources if r.package in CLOUDS])
    region = outputs.get("region") if isinstance(outputs.get("region"), str) else None
    return StackContext(stack=stack, cloud=cloud, region=region, jurisdiction=jurisdiction,
                        compliance=compliance or ComplianceConfig(), today=today or date.today(),
                        environment=_most_common([str(t.get("environment", "")) for t in tags]))
