"""Data residency: mainland China data stays in mainland China on Alibaba Cloud, and only there.

China's Personal Information Protection Law (arts. 38-40), Data Security Law
(art. 31) and Cybersecurity Law (art. 37) restrict moving personal information
and important data out of mainland China; gpufleet keeps `cn` stacks entirely
in mainland regions of Alibaba Cloud so that prompts, outputs, logs and weights
never cross the border, and keeps `global` stacks out of China altogether.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Mapping
from urllib.parse import urlsplit

from . import k8s
from .locations import find_locations, host_regions, is_mainland
from .model import PolicyContext, package_of
from .props import Path, dotted, last_key, tags_of, truthy, walk_strings

# 'pulumi-python': dynamic resources, the project's own code calling (Alibaba Cloud) APIs from the deployer.
CN_DEFAULT_PACKAGES = ("alicloud", "kubernetes", "random", "tls", "command", "gpufleet", "pulumi", "pulumi-python")
HELM_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v3:Chart", "kubernetes:helm.sh/v4:Chart")
CLOUD_PACKAGES = ("alicloud", "aws")
# Resource types whose job is to copy data somewhere (matched on the type name, lower-cased).
_TRANSFER_WORDS = ("replica", "etl", "shipper", "export", "sync", "copy", "deliver", "backup", "migration",
                   "subscription", "ingestion", "sink")
_ENDPOINT_KEYS = ("endpoint", "url", "uri", "host")
_FOREIGN_SCHEMES = ("s3://", "gs://", "hf://", "az://", "abfs://", "abfss://", "wasb://", "wasbs://")
_URL = re.compile(r"\b(?:https?|grpcs?)://[^\s\"'<>]+", re.IGNORECASE)
# Hosts a cn model server may fetch from: Alibaba Cloud endpoints (their region is checked by
# cn-mainland-locations) and ModelScope, which is operated in mainland China.
_CN_SOURCE_SUFFIXES = (".aliyuncs.com", ".aliyun.com", ".modelscope.cn")
_CN_SOURCE_HOSTS = ("modelscope.cn",)
# ACR Enterprise Edition: '<instance>-registry[-vpc].<region>.cr.aliyuncs.com'.
ACR_EE_HOST = re.compile(
    r"^(?P<instance>[a-z0-9][a-z0-9-]*)-registry(?:-vpc)?\.(?P<region>[a-z0-9-]+)\.cr\.aliyuncs\.com$")
_HF_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def is_transfer_type(resource_type: str) -> bool:
    """Replication, shipping, export, copy, backup and sync resources move data to a destination."""
    if package_of(resource_type) not in CLOUD_PACKAGES:
        return False
    name = resource_type.rsplit(":", 1)[-1].lower()
    return any(word in name for word in _TRANSFER_WORDS)


def _stack_region_findings(resource_type: str, ctx: PolicyContext, want_mainland: bool) -> list[str]:
    region = ctx.stack.region
    if not region or package_of(resource_type) not in CLOUD_PACKAGES:
        return []
    mainland = is_mainland(region)  # None: a region nobody knows, so not shown to be mainland
    if want_mainland and mainland is not True:
        return [f"is created in region {region!r}, which is not in mainland China"]
    if not want_mainland and mainland is True:
        return [f"is created in region {region!r}, which is in mainland China"]
    return []


# --------------------------------------------------------------------------- rules


def cn_alicloud_only(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """A cn stack creates resources only on Alibaba Cloud (plus Kubernetes objects, helper
    providers and gpufleet components)."""
    if ctx.jurisdiction != "cn":
        return []
    allowed = tuple(ctx.settings.get("allowedPackages", CN_DEFAULT_PACKAGES))
    package = package_of(resource_type)
    if package in allowed:
        return []
    return [f"{resource_type} is a {package!r} resource; a cn stack may only use {', '.join(allowed)}"]


def cn_mainland_locations(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """Every region, zone, endpoint and ARN a cn resource names is in mainland China."""
    if ctx.jurisdiction != "cn" or is_transfer_type(resource_type):
        return []  # transfer resources are judged by cn-no-cross-border-transfer
    found = _stack_region_findings(resource_type, ctx, want_mainland=True)
    for path, text, region in find_locations(props):
        if last_key(path) == "image":
            continue  # container images are judged by cn-images-from-acr
        if is_mainland(region) is False:
            found.append(f"{dotted(path)} = {text!r} is in {region}, outside mainland China")
    return found


def global_no_china_locations(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """A global stack creates nothing in, and points at nothing in, a mainland China region."""
    if ctx.jurisdiction != "global":
        return []
    found = _stack_region_findings(resource_type, ctx, want_mainland=False)
    for path, text, region in find_locations(props):
        if is_mainland(region):
            found.append(f"{dotted(path)} = {text!r} is in {region}, a mainland China region")
    return found


def _endpoint_strings(props: Mapping[str, Any]) -> list[tuple[Path, str]]:
    return [(p, t) for p, t in walk_strings(props)
            if any(k in last_key(p).lower() for k in _ENDPOINT_KEYS) and ("." in t or "://" in t)]


def cn_no_cross_border_transfer(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """Replication, log shipping, export, sync and backup from a cn stack end in mainland China."""
    if ctx.jurisdiction != "cn" or not is_transfer_type(resource_type):
        return []
    found = _stack_region_findings(resource_type, ctx, want_mainland=True)
    for path, text, region in find_locations(props):
        if is_mainland(region) is False:
            found.append(f"sends data to {text!r} ({dotted(path)}) in {region}, outside mainland China")
    for path, text in _endpoint_strings(props):
        if not host_regions(text):
            found.append(f"sends data to {text!r} ({dotted(path)}), which is not an endpoint in a mainland "
                         "China region of Alibaba Cloud")
    return found


def jurisdiction_tag_matches(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """A resource's `jurisdiction` tag equals its stack's jurisdiction."""
    tag = tags_of(props).get("jurisdiction")
    if not isinstance(tag, str) or not ctx.jurisdiction or tag == ctx.jurisdiction:
        return []
    return [f"is tagged jurisdiction={tag!r} but belongs to a {ctx.jurisdiction!r} stack"]


def _artifact_refs(resource_type: str, props: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(who, image or chart reference) for what a Kubernetes resource makes the cluster pull.

    Workloads: their containers. Custom resources and Helm releases: every `image` value
    (e.g. EnvoyProxy's container, chart values) and an OCI chart's own location.
    """
    spec = k8s.pod_spec(k8s.kind_of(resource_type), props)
    if spec is not None:
        return [(k8s.container_label(s, c), str(c.get("image", ""))) for s, c in k8s.containers(spec)]
    if not resource_type.startswith("kubernetes:") or resource_type.startswith("kubernetes:core/"):
        return []
    refs = [(dotted(p), t) for p, t in walk_strings(props) if last_key(p) == "image" and t]
    chart = props.get("chart")
    if resource_type in HELM_TYPES and isinstance(chart, str) and chart.startswith("oci://"):
        refs.append(("chart", chart.removeprefix("oci://")))
    return refs


def cn_images_from_acr(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """cn workloads (and charts and custom resources) pull every image from an ACR Enterprise
    Edition registry in the stack's region."""
    if ctx.jurisdiction != "cn":
        return []
    trusted = set(ctx.settings.get("allowedRegistryHosts", ()))
    found = []
    for who, image in _artifact_refs(resource_type, props):
        host = k8s.image_host(image)
        if host in trusted:
            continue
        match = ACR_EE_HOST.match(host)
        if match is None:
            found.append(f"{who} pulls {image!r} from {host}, not from an ACR Enterprise Edition registry "
                         "(*.cr.aliyuncs.com)")
        elif is_mainland(match["region"]) is not True:
            found.append(f"{who} pulls {image!r} from ACR in {match['region']}, outside mainland China")
        elif ctx.stack.region and match["region"] != ctx.stack.region:
            found.append(f"{who} pulls {image!r} from ACR in {match['region']}, not the stack's region "
                         f"{ctx.stack.region}")
    return found


def _in_cluster_or_cn_source(host: str) -> bool:
    host = host.lower().rstrip(".")
    try:
        ip = ipaddress.ip_address(host)
        return ip.is_private or ip.is_loopback
    except ValueError:
        pass
    if "." not in host or host.endswith((".svc", ".cluster.local", ".local")):
        return True
    return host in _CN_SOURCE_HOSTS or host.endswith(_CN_SOURCE_SUFFIXES)


def _vllm_model_argument(container: Mapping[str, Any]) -> str | None:
    """The model `vllm serve` is given: the first positional argument after 'serve'."""
    words = [str(w) for w in [*(container.get("command") or []), *(container.get("args") or [])]]
    if "serve" not in words or not any(w.endswith("vllm") for w in words):
        return None
    rest = words[words.index("serve") + 1:]
    return next((w for w in rest if not w.startswith("-")), None)


def cn_weights_in_region(resource_type: str, props: Mapping[str, Any], ctx: PolicyContext) -> list[str]:
    """cn model servers load weights from OSS or ModelScope only, with the Hugging Face hub offline."""
    kind = k8s.kind_of(resource_type)
    spec = k8s.pod_spec(kind, props)
    if ctx.jurisdiction != "cn" or spec is None:
        return []
    model_server = k8s.is_model_server(k8s.pod_labels(kind, props)) or k8s.is_model_server(k8s.labels_of(props))
    found = []
    for section, container in k8s.containers(spec):
        who = k8s.container_label(section, container)
        env = k8s.literal_env(container)
        if model_server and section == "containers" and not truthy(env.get("HF_HUB_OFFLINE")):
            found.append(f"{who} does not set HF_HUB_OFFLINE=1 (the Hugging Face hub must stay unreachable)")
        values = [str(v) for v in [*(container.get("command") or []), *(container.get("args") or []), *env.values()]]
        for value in values:
            if value.lower().startswith(_FOREIGN_SCHEMES):
                found.append(f"{who} reads {value!r}; cn weights come from oss:// or ModelScope only")
            for url in _URL.findall(value):
                host = urlsplit(url).hostname or ""
                if not _in_cluster_or_cn_source(host):
                    found.append(f"{who} reaches {url!r} ({host}), which is not an in-region source "
                                 "(Alibaba Cloud in mainland China or ModelScope)")
        model = _vllm_model_argument(container)
        by_repo_id = bool(model) and not model.startswith("/") and _HF_REPO_ID.match(model) is not None
        if by_repo_id and not truthy(env.get("VLLM_USE_MODELSCOPE")):
            found.append(f"{who} serves {model!r} by repository id without VLLM_USE_MODELSCOPE=True, "
                         "so vLLM would fetch it from Hugging Face")
    return found
