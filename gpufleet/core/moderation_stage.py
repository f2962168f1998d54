"""The moderation stage of a stack, as data: when it runs, its config checks, its Kubernetes objects.

One proxy Deployment per release runs in the release's own namespace (restricted
Pod Security, default deny) on the system pool. The HTTPRoute's backends point at
its Service (`moderation-<release>`, same port as vLLM), and the model server then
admits only the proxy (and Prometheus), so nothing reaches vLLM unscreened.
Pulumi-free: `gpufleet/infra/components/moderation.py` registers what this returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from gpufleet.core import clouds
from gpufleet.core.errors import ConfigError
from gpufleet.core.manifests import PORT
from gpufleet.core.naming import resource_name
from gpufleet.core.release_config import parse_image
from gpufleet.core.secrets import SECRET_PLACEHOLDER
from gpufleet.core.scheduling import MODEL_NAMESPACE_PREFIX, POOL_LABEL, release_namespace
from gpufleet.moderation.settings import ProxySettings, settings_to_argv

if TYPE_CHECKING:
    from gpufleet.core.compliance_config import Moderation
    from gpufleet.core.config import StackConfig

KEY = "gpufleet:compliance.moderation"
SERVICE_ACCOUNT = "moderation-proxy"
SA_SUBJECT = f"system:serviceaccount:{MODEL_NAMESPACE_PREFIX}*:{SERVICE_ACCOUNT}"
METRICS_PORT = 9090
RUN_AS = 10001
REGISTRY_TOKEN = "{{registry_url}}"
MONITORING_NAMESPACE = "monitoring"
VLLM_SELECTOR = {"app.kubernetes.io/name": "vllm"}
GREEN_RAM_ACTIONS = ("yundun-greenweb:TextModerationPlus",)


def stage_enabled(cfg: StackConfig) -> bool:
    """The stage runs when the stack declares moderation and has a route to put it on."""
    return cfg.compliance.moderation is not None and cfg.traffic is not None


def service_name(release: str) -> str:
    return f"moderation-{release}"


def role_name(stack: str) -> str:
    """The RAM role the proxies assume through RRSA (Alibaba Cloud stacks)."""
    return resource_name(stack, "moderation")[:64]


def check_moderation(cfg: StackConfig) -> None:
    """Stack-level rules the model alone cannot see; raises ConfigError naming the key."""
    m = cfg.compliance.moderation
    if m is None:
        return
    if m.fail_open and cfg.environment == "prod":
        raise ConfigError(f"{KEY}.failOpen", "must be false for prod stacks: a moderation outage refuses requests "
                                             "(allowed: true only for staging and dev)")
    if cfg.traffic is not None and m.image is None:
        raise ConfigError(f"{KEY}.image", "is required: the moderation proxy image in the stack's registry, pinned by "
                                          "tag and digest (e.g. gpufleet-moderation:0.1.0@sha256:<64 hex>)")
    if m.image is not None:
        ref = parse_image(m.image)
        if not (ref.tag and ref.digest):
            raise ConfigError(f"{KEY}.image", f"{m.image!r} must be pinned by tag and digest "
                                              "(repository:tag@sha256:<64 hex>)")
        if cfg.jurisdiction == "cn" and "/" in m.image:
            raise ConfigError(f"{KEY}.image", f"{m.image!r} names a registry; China stacks pull the proxy from their "
                                              "own ACR (give the short name, e.g. gpufleet-moderation:0.1.0@sha256:...)")


def proxy_image(m: Moderation) -> str:
    image = str(m.image)
    return f"{REGISTRY_TOKEN}/{image}" if "/" not in image else image


def proxy_settings(cfg: StackConfig, m: Moderation, release: str) -> ProxySettings:
    c = cfg.compliance
    return ProxySettings(
        upstream=f"http://vllm-{release}.{release_namespace(release)}.svc.cluster.local:{PORT}",
        provider=m.provider, endpoint=m.endpoint, host="0.0.0.0", port=PORT,  # noqa: S104 - pod IP
        metrics_port=METRICS_PORT, stack=cfg.stack,
        # A filing id kept as a Pulumi secret is not known here and must not land in a pod spec.
        service_name=c.genai_filing_id if c.genai_filing_id and c.genai_filing_id != SECRET_PLACEHOLDER
        else f"gpufleet-{cfg.stack}",
        check_prompts=m.check_prompts, check_outputs=m.check_outputs, timeout_ms=m.timeout_ms,
        window_chars=m.window_chars, first_window_chars=m.first_window_chars, max_hold_ms=m.max_hold_ms,
        block_levels=tuple(m.block_risk_levels),
        fail_open=m.fail_open, log_raw_text=m.log_raw_text,
        explicit_notice=m.explicit_label,
    ).validate()


def labels(cfg: StackConfig, release: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "moderation-proxy", "app.kubernetes.io/instance": release,
            "app.kubernetes.io/component": "moderation", "app.kubernetes.io/part-of": "gpufleet",
            "app.kubernetes.io/managed-by": "pulumi", "gpufleet.io/team": cfg.team, "gpufleet.io/stack": cfg.stack,
            "gpufleet.io/release": release}


def selector(release: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "moderation-proxy", "app.kubernetes.io/instance": release}


def _meta(name: str, namespace: str, lbls: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": lbls, **extra}


def _tcp(port: int) -> dict[str, Any]:
    return {"protocol": "TCP", "port": port}


def provider_port(m: Moderation) -> int | None:
    """The TCP port the provider is reached on (None: the no-op provider calls nothing)."""
    if m.provider == "noop" or m.endpoint is None:
        return None
    return urlsplit(m.endpoint).port or 443


def render_moderation(cfg: StackConfig, release: str) -> list[dict[str, Any]]:
    """ServiceAccount, Deployment, Service, PDB and NetworkPolicies of one release's proxy."""
    m = cfg.compliance.moderation
    assert m is not None
    ns, name, lbls = release_namespace(release), service_name(release), labels(cfg, release)
    green = m.provider == "aliyun-green"  # the only provider the stage holds a cloud role for
    sa_annotations = clouds.get(cfg.cloud).role_annotations(role_name(cfg.stack)) if green else {}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "automountServiceAccountToken": False,
         "metadata": _meta(SERVICE_ACCOUNT, ns, lbls, annotations=sa_annotations)},
        _deployment(cfg, m, release, ns, name, lbls),
        {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, ns, lbls),
         "spec": {"type": "ClusterIP", "selector": selector(release), "ports": [
             {"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"},
             {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"}]}},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": _meta(name, ns, lbls),
         "spec": {"minAvailable": 1, "selector": {"matchLabels": selector(release)}}},
        *_network_policies(m, release, ns, name, lbls),
    ]


def _deployment(cfg: StackConfig, m: Moderation, release: str, ns: str, name: str,
                lbls: dict[str, str]) -> dict[str, Any]:
    probe = {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 10, "timeoutSeconds": 2}
    container = {
        "name": "proxy", "image": proxy_image(m), "imagePullPolicy": "Always",
        "args": settings_to_argv(proxy_settings(cfg, m, release)),
        # Credentials come from RRSA only: never fall back to the node's instance role.
        "env": [{"name": "ALIBABA_CLOUD_ECS_METADATA_DISABLED", "value": "true"}],
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"},
                  {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
        "startupProbe": {**probe, "failureThreshold": 30},
        "readinessProbe": probe, "livenessProbe": {**probe, "failureThreshold": 3},
        "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"cpu": "2", "memory": "512Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                            "capabilities": {"drop": ["ALL"]}},
    }
    pod = {
        "serviceAccountName": SERVICE_ACCOUNT, "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "runAsUser": RUN_AS, "runAsGroup": RUN_AS, "fsGroup": RUN_AS,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "nodeSelector": {POOL_LABEL: "system"},
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                       "whenUnsatisfiable": "ScheduleAnyway",
                                       "labelSelector": {"matchLabels": selector(release)}}],
        "terminationGracePeriodSeconds": 30,
        "containers": [container],
    }
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(name, ns, lbls),
            "spec": {"replicas": m.replicas, "selector": {"matchLabels": selector(release)},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                     "template": {"metadata": {"labels": lbls}, "spec": pod}}}


def _network_policies(m: Moderation, release: str, ns: str, name: str, lbls: dict[str, str]) -> list[dict[str, Any]]:
    """Clients (the gateway) and Prometheus in; vLLM, DNS and the provider out; vLLM admits the proxy."""
    me = {"matchLabels": selector(release)}

    def policy(suffix: str, pod: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": _meta(f"{name}-{suffix}", ns, lbls), "spec": {"podSelector": pod, **spec}}

    def namespaces(*names: str) -> dict[str, Any]:
        return {"namespaceSelector": {"matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": sorted(names)}]}}

    egress = [{"to": [{"podSelector": {"matchLabels": VLLM_SELECTOR}}], "ports": [_tcp(PORT)]},
              {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                       "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
               "ports": [{"protocol": "UDP", "port": 53}, _tcp(53)]}]
    port = provider_port(m)
    if port is not None:
        # The provider and the STS endpoint (RRSA) are HTTPS hosts; NetworkPolicy cannot name hosts.
        egress.append({"ports": [_tcp(p) for p in sorted({port, 443})]})
    return [
        policy("ingress", me, {"policyTypes": ["Ingress"], "ingress": [
            {"from": [namespaces("gateway")], "ports": [_tcp(PORT)]},
            {"from": [namespaces(MONITORING_NAMESPACE)], "ports": [_tcp(METRICS_PORT)]}]}),
        policy("egress", me, {"policyTypes": ["Egress"], "egress": egress}),
        policy("to-vllm", {"matchLabels": VLLM_SELECTOR}, {"policyTypes": ["Ingress"], "ingress": [
            {"from": [{"podSelector": me}], "ports": [_tcp(PORT)]}]}),
    ]


def ram_policy_document() -> str:
    """What the proxies' RAM role may do: call TextModerationPlus, nothing else."""
    from gpufleet.core.iam_documents import doc
    return doc({"Effect": "Allow", "Action": list(GREEN_RAM_ACTIONS), "Resource": ["*"]}, version="1")

