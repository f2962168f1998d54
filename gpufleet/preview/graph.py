"""The deployment graph as the engine sees it: parent, provider, explicit dependsOn and input references.

Pulumi's mock engine accepts anything, so ordering mistakes (a repository
created beside its namespace, a node pool before its SNAT) never show. The
monitor below keeps, per registration, what the SDK sent the engine: the
parent URN, the provider reference, every dependency URN, and the URNs each
input property came from. Explicit `depends_on` is what remains of the
dependencies once the input references are taken out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable


@dataclass
class GraphNode:
    urn: str
    parent: str | None
    provider: str | None
    depends_on: list[str] = field(default_factory=list)
    refs: dict[str, list[str]] = field(default_factory=dict)  # input property -> URNs it was computed from
    read: bool = False  # a read of an existing resource (StackReference, Service.get)


def provider_urn(reference: str) -> str | None:
    """A provider reference is '<urn>::<id>'; the URN itself contains '::'."""
    return reference.rsplit("::", 1)[0] if reference else None


def node_from_register(urn: str, request) -> GraphNode:
    refs = {key: sorted(deps.urns) for key, deps in request.propertyDependencies.items() if deps.urns}
    referenced = {u for urns in refs.values() for u in urns}
    explicit = sorted(set(request.dependencies) - referenced)
    return GraphNode(urn, request.parent or None, provider_urn(request.provider), explicit, refs)


def node_from_read(urn: str, request) -> GraphNode:
    return GraphNode(urn, request.parent or None, provider_urn(request.provider),
                     sorted(set(request.dependencies)), {}, read=True)


def closure(start: str, edges: dict[str, Iterable[str]]) -> set[str]:
    """Every URN reachable from `start` along `edges` (start excluded)."""
    seen: set[str] = set()
    todo = list(edges.get(start, ()))
    while todo:
        urn = todo.pop()
        if urn not in seen:
            seen.add(urn)
            todo.extend(edges.get(urn, ()))
    return seen
