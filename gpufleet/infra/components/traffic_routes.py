"""The weighted HTTPRoute and the ReferenceGrants that let it reach each release's Service.

Pure functions over release names and weights; `TrafficRouter` registers what they return.
A new kind of backend (e.g. a moderation proxy in front of the releases) is one more rule here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gpufleet.core.traffic_names import (
    GATEWAY_API, GATEWAY_NAME, GATEWAY_NAMESPACE, LISTENER_NAME, RELEASE_HEADER, Backend, backend_for, release_path,
)

# Long generations stream for minutes; Envoy's default route timeout (15 s) would cut them.
REQUEST_TIMEOUT = "600s"


def _backend_ref(backend: Backend, weight: int) -> dict[str, Any]:
    return {
        "group": "",
        "kind": "Service",
        "name": backend.service,
        "namespace": backend.namespace,
        "port": backend.port,
        "weight": weight,
    }


def _direct_rules(release: str, timeouts: Mapping[str, str],
                  route_backend: Callable[[str], Backend] = backend_for) -> list[dict[str, Any]]:
    """A header rule and a path rule that reach `release` whatever its weight (the gate's way in)."""
    backend = route_backend(release)
    return [
        {
            "matches": [{"headers": [{"type": "Exact", "name": RELEASE_HEADER, "value": release}]}],
            "backendRefs": [_backend_ref(backend, 1)],
            "timeouts": dict(timeouts),
        },
        {
            "matches": [{"path": {"type": "PathPrefix", "value": release_path(release)}}],
            "filters": [{
                "type": "URLRewrite",
                "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
            }],
            "backendRefs": [_backend_ref(backend, 1)],
            "timeouts": dict(timeouts),
        },
    ]


def httproute_spec(weights: Mapping[str, int], route_backend: Callable[[str], Backend] = backend_for) -> dict[str, Any]:
    """Default rule split by `weights`; one header rule and one path rule per release.

    Gateway API precedence: a rule with a header match beats the plain `/` rule,
    and the longer path prefix beats `/`, so the direct rules always win.
    """
    if sum(weights.values()) <= 0:
        raise ValueError(f"at least one release needs a weight above 0; got {dict(weights)}")
    releases = sorted(weights)
    timeouts = {"request": REQUEST_TIMEOUT}
    rules: list[dict[str, Any]] = [rule for release in releases
                                   for rule in _direct_rules(release, timeouts, route_backend)]
    rules.append({
        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
        "backendRefs": [_backend_ref(route_backend(r), weights[r]) for r in releases],
        "timeouts": timeouts,
    })
    return {
        # No hostnames: the gate reaches this stack's own load balancer by address,
        # while clients come through the shared weighted name.
        "parentRefs": [{
            "group": GATEWAY_API, "kind": "Gateway", "name": GATEWAY_NAME,
            "namespace": GATEWAY_NAMESPACE, "sectionName": LISTENER_NAME,
        }],
        "rules": rules,
    }


def reference_grant_spec(release: str, route_backend: Callable[[str], Backend] = backend_for) -> dict[str, Any]:
    """Lets the HTTPRoute in the gateway namespace use this release's Service, and nothing else."""
    backend = route_backend(release)
    return {
        "from": [{"group": GATEWAY_API, "kind": "HTTPRoute", "namespace": GATEWAY_NAMESPACE}],
        "to": [{"group": "", "kind": "Service", "name": backend.service}],
    }
