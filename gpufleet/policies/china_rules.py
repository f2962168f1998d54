"""Rules for running a public generative-AI service in mainland China.

Logs are kept at least six months (Cybersecurity Law art. 21); a public service
needs an ICP filing (State Council Order 292 art. 4, MIIT Order 33) and a
generative-AI service filing (Interim Measures for Generative AI Services art. 17),
and must stop illegal content in what users send and what the model returns
(same Measures arts. 4 and 14; TC260-003). The filings and the moderation hook
are declared in `gpufleet:compliance`; these rules check that they are there.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence
from urllib.parse import urlsplit

from . import k8s
from .locations import host_regions, is_mainland
from .model import PolicyContext, Resource, Violation
from .props import get, known

CN_MIN_LOG_RETENTION_DAYS = 184  # six months, counted as the longest: 31+31+30+31+30+31
SLS_DEFAULT_RETENTION_DAYS = 30  # alicloud:log/store retentionPeriod when unset
ACK_DEFAULT_LOG_TTL_DAYS = 30  # alicloud:cs controlPlaneLogTtl when unset
_ACK_TYPES = ("alicloud:cs/managedKubernetes:ManagedKubernetes", "alicloud:cs/kubernetes:Kubernetes")
_PUBLIC_LB_TYPES = {
    "alicloud:slb/loadBalancer:LoadBalancer": "addressType",
    "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer": "addressType",
    "alicloud:alb/loadBalancer:LoadBalancer": "addressType",
    "alicloud:nlb/loadBalancer:LoadBalancer": "addressType",
}
ACK_LB_ADDRESS_TYPE = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type"
COMPLIANCE = "gpufleet:compliance"


def _days(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def cn_log_retention(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """cn log stores and ACK control-plane logs are kept at least six months (184 days)."""
    if ctx.jurisdiction != "cn":
        return []
    minimum = int(ctx.settings.get("minDays", CN_MIN_LOG_RETENTION_DAYS))
    if resource_type == "alicloud:log/store:Store":
        if props.get("telemetryType") == "Metrics":
            return []
        value = props.get("retentionPeriod", SLS_DEFAULT_RETENTION_DAYS)
        days = _days(value) if known(value) else None
        if days is not None and days < minimum:
            name = props.get("logstoreName", "?")
            return [f"log store {name!r} keeps logs {days} days; cn stacks keep them at least {minimum} days"]
    if resource_type in _ACK_TYPES and props.get("controlPlaneLogComponents"):
        value = props.get("controlPlaneLogTtl", ACK_DEFAULT_LOG_TTL_DAYS)
        days = _days(value) if known(value) else None
        if days is not None and days < minimum:
            return [f"controlPlaneLogTtl is {days} days; cn stacks keep control-plane and audit logs at least "
                    f"{minimum} days"]
    return []


def cn_public_endpoint_filings(resources: Sequence[Resource], ctx: PolicyContext) -> list[Violation]:
    """A public cn service needs its ICP filing number and its generative-AI filing id on record."""
    if ctx.jurisdiction != "cn":
        return []
    if ctx.stack.compliance_error:
        return [Violation(f"{COMPLIANCE} is invalid: {ctx.stack.compliance_error}")]
    c = ctx.stack.compliance
    if not c.public_endpoint:
        return []
    missing = [key for key, value in (("icpFiling", c.icp_filing), ("genaiFilingId", c.genai_filing_id)) if not value]
    if not missing:
        return []
    return [Violation(f"{COMPLIANCE}.publicEndpoint is true but {' and '.join(missing)} "
                      f"{'is' if len(missing) == 1 else 'are'} not set; a public generative-AI service in "
                      "mainland China needs an ICP filing (e.g. 浙ICP备12345678号) and a CAC generative-AI filing")]


def cn_content_moderation(resources: Sequence[Resource], ctx: PolicyContext) -> list[Violation]:
    """A public cn service screens every prompt and every output through an in-country moderation hook."""
    if ctx.jurisdiction != "cn" or ctx.stack.compliance_error or not ctx.stack.compliance.public_endpoint:
        return []
    m = ctx.stack.compliance.moderation
    if m is None:
        return [Violation(f"{COMPLIANCE}.publicEndpoint is true but no moderation hook is configured "
                          f"({COMPLIANCE}.moderation with provider, endpoint, checkPrompts, checkOutputs)")]
    found = []
    unchecked = [name for name, on in (("checkPrompts", m.check_prompts), ("checkOutputs", m.check_outputs)) if not on]
    if unchecked:
        found.append(Violation(f"{COMPLIANCE}.moderation has {' and '.join(unchecked)} off; both prompts and "
                               "outputs must be screened"))
    if m.provider == "noop" or m.endpoint is None:
        found.append(Violation(f"{COMPLIANCE}.moderation.provider is 'noop', which screens nothing; a public cn "
                               "service needs aliyun-green or a custom in-country service"))
        return found
    host = urlsplit(m.endpoint).hostname or ""
    regions = host_regions(host)
    outside = sorted(r for r in regions if not is_mainland(r))
    if outside:
        found.append(Violation(f"{COMPLIANCE}.moderation.endpoint {m.endpoint!r} is in {', '.join(outside)}, "
                               "outside mainland China (prompts would leave the country)"))
    elif m.provider == "aliyun-green" and not regions:
        found.append(Violation(f"{COMPLIANCE}.moderation.endpoint {m.endpoint!r} is not a regional Alibaba Cloud "
                               "Content Moderation endpoint (e.g. https://green-cip.cn-shanghai.aliyuncs.com)"))
    return found


def cn_undeclared_public_endpoint(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """Internet-facing load balancers in a cn stack exist only when gpufleet:compliance.publicEndpoint declares them."""
    if ctx.jurisdiction != "cn" or ctx.stack.compliance.public_endpoint:
        return []
    key = _PUBLIC_LB_TYPES.get(resource_type)
    if key is not None:
        public = [key] if str(props.get(key, "")).lower() == "internet" else []
    else:
        public = [where for where, annotations in _k8s_load_balancers(resource_type, props)
                  if str(annotations.get(ACK_LB_ADDRESS_TYPE, "internet")).lower() != "intranet"]
    return [f"{where}: is reachable from the internet but {COMPLIANCE}.publicEndpoint is false; declare the "
            "public endpoint with its ICP filing, generative-AI filing and moderation hook, or make it intranet-only"
            for where in public]


def _k8s_load_balancers(resource_type: str, props: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(where, annotations) of every LoadBalancer Service a Kubernetes object is or asks for.

    A Service itself, or a Service template inside a custom resource (e.g. EnvoyProxy's
    `spec.provider.kubernetes.envoyService`), whose annotations sit beside its type.
    """
    if k8s.kind_of(resource_type) == "Service":
        if get(props, "spec.type") != "LoadBalancer":
            return []
        annotations = get(props, "metadata.annotations")
        return [("spec.type", annotations if isinstance(annotations, Mapping) else {})]
    if not k8s.kind_of(resource_type):
        return []
    found = []
    for path, node in _mappings(props.get("spec"), ("spec",)):
        if node.get("type") == "LoadBalancer":
            annotations = node.get("annotations")
            found.append((".".join(path), annotations if isinstance(annotations, Mapping) else {}))
    return found


def _mappings(node: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Mapping[str, Any]]]:
    if isinstance(node, Mapping):
        yield path, node
        for key, value in node.items():
            yield from _mappings(value, (*path, str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _mappings(value, (*path, str(i)))
