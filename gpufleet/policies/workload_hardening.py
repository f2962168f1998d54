"""Workload hardening for the Kubernetes objects of the model servers (and anything beside them).

Model namespaces enforce the `restricted` Pod Security Standard and deny all
traffic by default; containers declare what they may consume, say when they
are healthy, survive node drains one replica at a time, keep secrets out of
their specs and carry the labels that cost allocation reads.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from . import k8s
from .model import PolicyContext, Resource, Violation, is_unknown
from .props import as_list, get

PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
GPU_RESOURCE = "nvidia.com/gpu"
DEFAULT_EXEMPT_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
DEFAULT_REQUIRED_LABELS = ("gpufleet.io/team", "gpufleet.io/stack")
MODEL_LABEL = "gpufleet.io/model"
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
_SECRET_WORDS = frozenset({"SECRET", "SECRETS", "PASSWORD", "PASSWD", "PASSPHRASE", "TOKEN", "CREDENTIAL",
                           "CREDENTIALS", "APIKEY", "ACCESSKEY", "PRIVATEKEY"})
_SECRET_VALUES = (
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\bLTAI[0-9A-Za-z]{12,30}\b"),  # Alibaba Cloud AccessKey id
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"),  # Hugging Face user access token
)


def _kind_and_spec(resource_type: str, props: Mapping[str, Any]) -> tuple[str, Mapping[str, Any] | None]:
    kind = k8s.kind_of(resource_type)
    return kind, k8s.pod_spec(kind, props)


# --------------------------------------------------------------------------- namespaces and network


def pod_security_restricted(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """Model namespaces enforce the `restricted` Pod Security Standard; every namespace states a level."""
    if k8s.kind_of(resource_type) != "Namespace":
        return []
    labels = k8s.labels_of(props)
    enforce = labels.get(PSA_ENFORCE)
    if is_unknown(enforce):
        return []
    if k8s.is_model_server(labels) and enforce != "restricted":
        return [f"is a model namespace but {PSA_ENFORCE} is {enforce!r}, not 'restricted'"]
    if enforce is None:
        return [f"has no {PSA_ENFORCE} label, so the cluster default (privileged) applies"]
    return []


def is_default_deny(props: Mapping[str, Any]) -> bool:
    """A NetworkPolicy that selects every pod and allows nothing in or out."""
    spec = props.get("spec") or {}
    selector = spec.get("podSelector")
    selects_all = isinstance(selector, Mapping) and not (
        selector.get("matchLabels") or selector.get("matchExpressions"))
    types = set(as_list(spec.get("policyTypes")))
    return selects_all and {"Ingress", "Egress"} <= types and not spec.get("ingress") and not spec.get("egress")


def network_default_deny(resources: Sequence[Resource], ctx: PolicyContext) -> list[Violation]:
    """Every namespace the stack creates or deploys into denies all ingress and egress by default."""
    exempt = set(ctx.settings.get("exemptNamespaces", DEFAULT_EXEMPT_NAMESPACES))
    owners: dict[str, Resource] = {}
    protected: set[str] = set()
    for r in resources:
        kind = k8s.kind_of(r.type)
        if kind == "Namespace":
            owners.setdefault(k8s.name_of(r.props), r)
        elif kind in k8s.WORKLOAD_KINDS:
            owners.setdefault(k8s.namespace_of(r.props), r)
        elif kind == "NetworkPolicy" and is_default_deny(r.props):
            protected.add(k8s.namespace_of(r.props))
    from .cni import network_policy_enforced

    if network_policy_enforced(resources, ctx):  # a cluster of this stack cannot enforce any NetworkPolicy
        return [Violation(f"namespace {ns!r}: its default-deny NetworkPolicy is not enforced by the cluster's CNI "
                          "(see network-policy-enforced)", owner)
                for ns, owner in sorted(owners.items()) if ns and ns in protected and ns not in exempt] + [
            Violation(f"namespace {ns!r} has no default-deny NetworkPolicy (podSelector {{}}, policyTypes "
                      "[Ingress, Egress], no rules)", owner)
            for ns, owner in sorted(owners.items()) if ns and ns not in protected and ns not in exempt]
    return [Violation(f"namespace {ns!r} has no default-deny NetworkPolicy (podSelector {{}}, policyTypes "
                      "[Ingress, Egress], no rules)", owner)
            for ns, owner in sorted(owners.items()) if ns and ns not in protected and ns not in exempt]


# --------------------------------------------------------------------------- containers


def _quantity_set(value: Any) -> bool:
    return value is not None and value != ""


def container_resource_limits(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """Containers cap CPU and memory; GPUs are requested through limits, and model servers request them."""
    kind, spec = _kind_and_spec(resource_type, props)
    if spec is None:
        return []
    found = []
    gpus = 0
    for section, container in k8s.containers(spec):
        who = k8s.container_label(section, container)
        resources = container.get("resources") or {}
        limits = resources.get("limits") or {}
        requests = resources.get("requests") or {}
        if is_unknown(limits):
            continue
        missing = [r for r in ("cpu", "memory") if not _quantity_set(limits.get(r))]
        if missing:
            found.append(f"{who} has no {' or '.join(missing)} limit")
        gpu_request = requests.get(GPU_RESOURCE)
        if _quantity_set(gpu_request) and str(gpu_request) != str(limits.get(GPU_RESOURCE)):
            found.append(f"{who} requests {GPU_RESOURCE} without an equal limit")
        if section == "containers" and _quantity_set(limits.get(GPU_RESOURCE)):
            gpus += 1
    labels = {**k8s.labels_of(props), **k8s.pod_labels(kind, props)}
    if k8s.is_model_server(labels) and gpus == 0:
        found.append(f"is a model server but no container has a {GPU_RESOURCE} limit")
    return found


def container_probes(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """Serving containers have startup, readiness and liveness probes."""
    kind, spec = _kind_and_spec(resource_type, props)
    if spec is None or kind not in k8s.SERVING_KINDS:
        return []
    found = []
    for section, container in k8s.containers(spec, include_init=False):
        missing = [p for p in PROBES if not container.get(p)]
        if missing:
            found.append(f"{k8s.container_label(section, container)} has no {', '.join(missing)}")
    return found


def pod_disruption_budget(resources: Sequence[Resource], ctx: PolicyContext) -> list[Violation]:
    """Every Deployment and StatefulSet is covered by a PodDisruptionBudget selecting its pods."""
    budgets = [(k8s.namespace_of(r.props), get(r.props, "spec.selector.matchLabels") or {})
               for r in resources if k8s.kind_of(r.type) == "PodDisruptionBudget"]
    found = []
    for r in resources:
        kind = k8s.kind_of(r.type)
        if kind not in k8s.SERVING_KINDS:
            continue
        namespace, labels = k8s.namespace_of(r.props), k8s.pod_labels(kind, r.props)
        covered = any(ns == namespace and isinstance(sel, Mapping) and sel
                      and all(labels.get(k) == v for k, v in sel.items()) for ns, sel in budgets)
        if not covered:
            found.append(Violation(f"{kind} {k8s.name_of(r.props)!r} in namespace {namespace!r} has no "
                                   "PodDisruptionBudget selecting its pods", r))
    return found


def is_secret_name(name: str) -> bool:
    """HF_TOKEN, DB_PASSWORD, OSS_ACCESS_KEY_ID, apiKey: yes. TOKENIZERS_PARALLELISM: no."""
    snake = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).upper()
    parts = [p for p in re.split(r"[^A-Z0-9]+", snake) if p]
    joined = {a + b for a, b in zip(parts, parts[1:])}
    return bool(_SECRET_WORDS & set(parts) or _SECRET_WORDS & joined or (parts and parts[-1] == "KEY"))


def no_secrets_in_env(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """Credentials reach containers through secretKeyRef, never as literal env values in the spec."""
    _, spec = _kind_and_spec(resource_type, props)
    if spec is None:
        return []
    allowed = set(ctx.settings.get("allowNames", ()))
    found = []
    for section, container in k8s.containers(spec):
        who = k8s.container_label(section, container)
        for name, value in k8s.literal_env(container).items():
            if name in allowed or not isinstance(value, str) or not value:
                continue
            if is_secret_name(name):
                found.append(f"{who} sets {name} as a literal value; use valueFrom.secretKeyRef")
            elif any(p.search(value) for p in _SECRET_VALUES):
                found.append(f"{who} sets {name} to what looks like a credential; use valueFrom.secretKeyRef")
    return found


def workload_cost_labels(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """Workloads and their pods carry gpufleet.io/team and gpufleet.io/stack labels
    (and gpufleet.io/model on model servers)."""
    kind, spec = _kind_and_spec(resource_type, props)
    if spec is None:
        return []
    required = list(ctx.settings.get("requiredLabels", DEFAULT_REQUIRED_LABELS))
    found = []
    for where, labels in (("metadata", k8s.labels_of(props)), ("pod template", k8s.pod_labels(kind, props))):
        if kind == "Pod" and where == "pod template":
            continue
        wanted = required + ([MODEL_LABEL] if k8s.is_model_server(labels) else [])
        missing = [label for label in wanted if not labels.get(label)]
        if missing:
            found.append(f"{where} labels lack {', '.join(missing)}")
        stack = labels.get("gpufleet.io/stack")
        if isinstance(stack, str) and ctx.stack.stack and stack != ctx.stack.stack:
            found.append(f"{where} label gpufleet.io/stack={stack!r} names another stack than {ctx.stack.stack!r}")
    return found
