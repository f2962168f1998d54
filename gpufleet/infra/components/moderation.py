"""`gpufleet:k8s:ModerationStage`: the moderation proxies in front of a stack's releases.

What the objects are is decided in `gpufleet.core.moderation_stage`; this registers
them through the stack's explicit Kubernetes provider, plus, on Alibaba Cloud, the
RAM role the proxies assume through RRSA (TextModerationPlus only) and the SLS log
store their decision lines are collected into (kept as long as the stack's other
logs, at least 184 days). The program calls `deploy_moderation` in one line, in the
workloads phase, after the model servers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from gpufleet.core import iam_documents as docs
from gpufleet.core import moderation_stage as stage
from gpufleet.core.config import StackConfig
from gpufleet.core.traffic_names import backend_for
from gpufleet.infra.components.base import AlicloudExtras, ClusterResult
from gpufleet.infra.components.model_server import register_objects

LOGSTORE = "moderation-decisions"
MIN_RETENTION_DAYS = 184


def logtail_input(namespace_prefix: str = "llm-") -> str:
    """Logtail plugin input: stdout of the proxy containers, one JSON decision per line."""
    return json.dumps({"plugin": {
        "inputs": [{"type": "service_docker_stdout", "detail": {
            "Stdout": True, "Stderr": False,
            "IncludeK8sLabel": {"app.kubernetes.io/component": "moderation"},
            "K8sNamespaceRegex": f"^{namespace_prefix}.*$", "K8sContainerRegex": "^proxy$"}}],
        "processors": [{"type": "processor_json", "detail": {"SourceKey": "content", "KeepSource": False,
                                                             "ExpandDepth": 1, "ExpandConnector": ""}}],
    }}, sort_keys=True)


@dataclass(frozen=True)
class ModerationStageArgs:
    config: StackConfig
    releases: Sequence[str]
    provider: k8s.Provider
    registry_url: pulumi.Input[str]
    alicloud: AlicloudExtras | None = None


class ModerationStage(pulumi.ComponentResource):
    """A proxy Deployment, Service, PDB, ServiceAccount and NetworkPolicies per release."""

    def __init__(self, name: str, args: ModerationStageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        cfg = args.config
        m = cfg.compliance.moderation
        if m is None:
            raise ValueError(f"stack {cfg.stack!r}: {stage.KEY} is not set; there is no stage to deploy")
        super().__init__("gpufleet:k8s:ModerationStage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if cfg.cloud == "alicloud" and args.alicloud is not None:
            self._alicloud(name, cfg, args.alicloud, child, green=m.provider == "aliyun-green")
        self.resources: dict[str, pulumi.CustomResource] = {}
        for release in sorted(args.releases):
            self.resources.update(register_objects(self, f"{name}-{release}", stage.render_moderation(cfg, release),
                                                   args.provider, {"registry_url": args.registry_url}))
        self.services = {r: f"{stage.service_name(r)}.llm-{r}" for r in sorted(args.releases)}
        self.register_outputs({"services": self.services})

    def _alicloud(self, name: str, cfg: StackConfig, extras: AlicloudExtras, child: pulumi.ResourceOptions,
                  *, green: bool) -> None:
        import pulumi_alicloud as alicloud

        if green:
            role = alicloud.ram.Role(
                f"{name}-role", role_name=stage.role_name(cfg.stack),
                description="gpufleet moderation proxies call Content Moderation (TextModerationPlus) via RRSA",
                assume_role_policy_document=pulumi.Output.all(extras.oidc_provider_arn, extras.oidc_issuer_url).apply(
                    lambda a: docs.ram_rrsa_trust(a[0], a[1], stage.SA_SUBJECT)),
                max_session_duration=3600, tags=cfg.tags, opts=child)
            policy = alicloud.ram.Policy(
                f"{name}-policy", policy_name=f"{stage.role_name(cfg.stack)}-green"[:128],
                policy_document=stage.ram_policy_document(),
                description="Call TextModerationPlus, nothing else", opts=child)
            alicloud.ram.RolePolicyAttachment(f"{name}-policy", role_name=role.role_name,
                                              policy_name=policy.policy_name, policy_type="Custom", opts=child)
        days = max(MIN_RETENTION_DAYS, cfg.cluster.log_retention_days)
        self.logstore = alicloud.log.Store(
            f"{name}-logstore", project_name=extras.log_project, logstore_name=LOGSTORE, retention_period=days,
            shard_count=2, auto_split=True, max_split_shard_count=16, append_meta=True, opts=child)
        config = alicloud.log.LogTailConfig(
            f"{name}-logtail", project=extras.log_project, logstore=self.logstore.logstore_name,
            name=f"{LOGSTORE}-stdout", input_type="plugin", output_type="LogService",
            input_detail=logtail_input(), opts=child)
        # ACK's logtail-ds add-on puts the nodes in the machine group `k8s-group-<cluster id>`.
        alicloud.log.LogTailAttachment(
            f"{name}-logtail", project=extras.log_project, logtail_config_name=config.name,
            machine_group_name=extras.cluster_id.apply(lambda cid: f"k8s-group-{cid}"), opts=child)


def moderation_route_backend(cfg: StackConfig) -> Callable[[str], Any]:
    """Maps a release to the Service its route traffic goes to: the release's moderation proxy when the
    stage runs (same namespace and port as vLLM), else vLLM itself. The one hook in the traffic layer."""
    if not stage.stage_enabled(cfg):
        return backend_for
    return lambda release: replace(backend_for(release), service=stage.service_name(release))


def deploy_moderation(cfg: StackConfig, cluster: ClusterResult, servers: Mapping[str, pulumi.Resource]
                      ) -> ModerationStage | None:
    """The stage for a stack that declares it (every public cn stack must: policy cn-content-moderation)."""
    if not stage.stage_enabled(cfg):
        return None
    args = ModerationStageArgs(cfg, sorted(cfg.releases), cluster.provider, cluster.registry_url, cluster.alicloud)
    return ModerationStage(f"{cfg.stack}-moderation", args,
                           pulumi.ResourceOptions(depends_on=list(servers.values())))
