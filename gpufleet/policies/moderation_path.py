"""The moderation stage is in the request path, not only declared.

Declaring `gpufleet:compliance.moderation` is not enough: every backend of every
HTTPRoute of a public cn stack must be a moderation proxy's Service (labelled
`app.kubernetes.io/component: moderation`), that proxy must run (a Deployment
selecting it) and must screen both prompts and outputs with a real provider, and
no model server may admit the gateway directly.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from . import k8s
from .model import PolicyContext, Resource, Violation
from .props import get

COMPONENT = "app.kubernetes.io/component"
STAGE = "moderation"


def _proxy_services(resources: Sequence[Resource]) -> dict[tuple[str, str], Mapping[str, Any]]:
    """(namespace, name) -> selector of every moderation proxy Service."""
    return {(k8s.namespace_of(r.props), k8s.name_of(r.props)): get(r.props, "spec.selector") or {}
            for r in resources if k8s.kind_of(r.type) == "Service" and k8s.labels_of(r.props).get(COMPONENT) == STAGE}


def _proxy_deployments(resources: Sequence[Resource]) -> list[Resource]:
    return [r for r in resources if k8s.kind_of(r.type) == "Deployment"
            and k8s.pod_labels("Deployment", r.props).get(COMPONENT) == STAGE]


def _runs(selector: Mapping[str, Any], namespace: str, deployments: Sequence[Resource]) -> bool:
    return bool(selector) and any(
        k8s.namespace_of(d.props) == namespace
        and all(k8s.pod_labels("Deployment", d.props).get(k) == v for k, v in selector.items())
        for d in deployments)


def _route_findings(route: Resource, proxies: Mapping[tuple[str, str], Mapping[str, Any]],
                    deployments: Sequence[Resource]) -> list[Violation]:
    found = []
    route_ns = k8s.namespace_of(route.props)
    for i, rule in enumerate(get(route.props, "spec.rules") or []):
        for ref in (rule.get("backendRefs") or []) if isinstance(rule, Mapping) else []:
            if ref.get("kind", "Service") != "Service" or ref.get("group", "") not in ("", "core"):
                found.append(Violation(f"HTTPRoute {k8s.name_of(route.props)!r} rule {i} sends traffic to "
                                       f"{ref.get('kind')} {ref.get('name')!r}, not through the moderation stage",
                                       route))
                continue
            key = (str(ref.get("namespace") or route_ns), str(ref.get("name")))
            if key not in proxies:
                found.append(Violation(f"HTTPRoute {k8s.name_of(route.props)!r} rule {i} sends traffic straight to "
                                       f"Service {key[0]}/{key[1]}, not through the moderation stage (its backends "
                                       "must be moderation proxies)", route))
            elif not _runs(proxies[key], key[0], deployments):
                found.append(Violation(f"HTTPRoute {k8s.name_of(route.props)!r} rule {i}: moderation Service "
                                       f"{key[0]}/{key[1]} selects no moderation proxy Deployment", route))
    return found


def _proxy_findings(deployment: Resource) -> list[Violation]:
    spec = k8s.pod_spec("Deployment", deployment.props) or {}
    found = []
    for _, container in k8s.containers(spec, include_init=False):
        args = [str(a) for a in container.get("args") or []]
        off = [flag for flag in ("--no-check-prompts", "--no-check-outputs", "--fail-open") if flag in args]
        provider = args[args.index("--provider") + 1] if "--provider" in args[:-1] else "noop"
        if provider == "noop":
            off.append("--provider noop")
        if off:
            found.append(Violation(f"moderation proxy {k8s.namespace_of(deployment.props)}/"
                                   f"{k8s.name_of(deployment.props)} runs with {', '.join(off)}; a public cn service "
                                   "screens every prompt and output and fails closed", deployment))
    return found


def cn_moderation_in_request_path(resources: Sequence[Resource], ctx: PolicyContext) -> list[Violation]:
    """Every public cn route sends its traffic through a running moderation proxy that screens both ways."""
    c = ctx.stack.compliance
    # Without a declaration cn-content-moderation already fails the stack; this rule checks the wiring.
    if ctx.jurisdiction != "cn" or ctx.stack.compliance_error or not c.public_endpoint or c.moderation is None:
        return []
    proxies = _proxy_services(resources)
    deployments = _proxy_deployments(resources)
    found: list[Violation] = []
    for route in (r for r in resources if k8s.kind_of(r.type) == "HTTPRoute"):
        found += _route_findings(route, proxies, deployments)
    for deployment in deployments:
        found += _proxy_findings(deployment)
    return found
