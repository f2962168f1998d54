"""Infra-layer bindings per cloud: one registry instead of `if cfg.cloud == ...` branches.

Each entry says how the platform phase builds the cloud's cluster, how the
workloads phase reaches its API server (a fresh kubeconfig every run), and
whether GPU nodes need the NVIDIA device plugin installed by us. Cloud facts
that need no Pulumi (regions, registry hosts, DNS) live in gpufleet.core.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Callable

import pulumi

from gpufleet.core.config import StackConfig
from gpufleet.infra.components.base import PlatformResult
from gpufleet.infra.kubeconfig import ack_kubeconfig, cluster_of, eks_kubeconfig

# Platform outputs each cloud's kubeconfig is built from (never a credential).
AccessReader = Callable[[StackConfig, Callable[[str], pulumi.Output]], pulumi.Output[str]]


@dataclass(frozen=True)
class CloudBinding:
    build_platform: Callable[[StackConfig], PlatformResult]
    kubeconfig: AccessReader
    # EKS GPU AMIs carry the driver but not the device plugin; ACK GPU pools install their own.
    installs_device_plugin: bool
    # Kubernetes-side node provisioning the workloads phase installs (Karpenter on EKS; ACK pools scale alone).
    node_provisioner: Callable[[StackConfig, Callable[[str], pulumi.Output], Any], Any] | None = None
    # Cloud-specific platform facts later components need (ACK: cluster id, RRSA OIDC, SLS project).
    extras: Callable[[Callable[[str], pulumi.Output]], Any] | None = None


def _aws_platform(cfg: StackConfig) -> PlatformResult:
    from gpufleet.infra.autoscaling_wiring import karpenter_iam_for
    from gpufleet.infra.components.aws import AwsArgs, AwsGpuCluster
    eks = AwsGpuCluster(cfg.stack, AwsArgs(config=cfg))
    iam = karpenter_iam_for(cfg, eks)
    # GPU nodes come from Karpenter; the workloads phase installs it with these.
    return dataclasses.replace(eks.result, access={
        **eks.result.access, "karpenterQueueName": iam.queue.name, "karpenterRoleArn": iam.role.arn,
        "nodeRoleName": eks.node_role.name, "kmsKeyArn": eks.key.arn})


def _aws_nodes(cfg: StackConfig, output: Callable[[str], pulumi.Output], cluster: Any) -> Any:
    from gpufleet.infra.autoscaling_wiring import karpenter_nodes_for
    return karpenter_nodes_for(cfg, output, cluster)


def _alicloud_platform(cfg: StackConfig) -> PlatformResult:
    from gpufleet.infra.components.alicloud import AlicloudArgs, AlicloudGpuCluster
    from gpufleet.infra.components.alicloud_addons import offered_version
    version = offered_version(cfg)  # before any resource: a minor ACK does not offer is a config error
    return AlicloudGpuCluster(cfg.stack, AlicloudArgs(config=cfg, version=version)).result


def _aws_kubeconfig(cfg: StackConfig, output: Callable[[str], pulumi.Output]) -> pulumi.Output[str]:
    return pulumi.Output.all(output("clusterName"), output("clusterEndpoint"), output("clusterCa")).apply(
        lambda a: json.dumps(eks_kubeconfig(a[0], a[1], a[2], cfg.region)))


def _alicloud_kubeconfig(cfg: StackConfig, output: Callable[[str], pulumi.Output]) -> pulumi.Output[str]:
    """Ask ACK for the API server and CA on every run (a 15-minute credential we discard);
    authenticate with the ack-ram-tool exec plugin."""
    import pulumi_alicloud as alicloud

    cluster_id = output("clusterId")
    credential = alicloud.cs.get_cluster_credential_output(cluster_id=cluster_id, temporary_duration_minutes=15)
    return pulumi.Output.all(cluster_id, credential.kube_config).apply(
        lambda a: json.dumps(ack_kubeconfig(a[0], *cluster_of(a[1]))))


def _alicloud_extras(output: Callable[[str], pulumi.Output]) -> Any:
    from gpufleet.infra.components.base import AlicloudExtras
    return AlicloudExtras(output("clusterId"), output("rrsaOidcProviderArn"), output("rrsaOidcIssuerUrl"),
                          output("logProject"))


CLOUDS: dict[str, CloudBinding] = {
    "aws": CloudBinding(_aws_platform, _aws_kubeconfig, installs_device_plugin=True, node_provisioner=_aws_nodes),
    "alicloud": CloudBinding(_alicloud_platform, _alicloud_kubeconfig, installs_device_plugin=False,
                             extras=_alicloud_extras),
}


def binding(cloud: str) -> CloudBinding:
    try:
        return CLOUDS[cloud]
    except KeyError:
        raise ValueError(f"no infra binding for cloud {cloud!r} (allowed: {', '.join(sorted(CLOUDS))})") from None
