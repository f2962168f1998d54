"""How the program attaches the autoscaling add-ons to a cluster: KEDA everywhere, Karpenter on EKS."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pulumi

from gpufleet.core.autoscaling import cold_start_seconds
from gpufleet.core.config import StackConfig
from gpufleet.core.model_catalog import load_model_catalog
from gpufleet.infra.components.autoscaling import (
    KarpenterIam,
    KarpenterIamArgs,
    KarpenterNodes,
    KarpenterNodesArgs,
    Keda,
    KedaArgs,
)
from gpufleet.infra.components.base import ClusterResult

if TYPE_CHECKING:
    from gpufleet.infra.components.aws import AwsGpuCluster


def keda_for(cfg: StackConfig, cluster: ClusterResult) -> Keda:
    return Keda(f"{cfg.stack}-keda", KedaArgs(cfg.jurisdiction, cluster.registry_url, cluster.provider,
                                             cfg.cluster.kubernetes_version))


def karpenter_iam_for(cfg: StackConfig, eks: AwsGpuCluster) -> KarpenterIam:
    """Platform phase: Karpenter's IAM role, interruption queue and discovery tags, with the cluster."""
    return KarpenterIam(f"{cfg.stack}-karpenter-iam", KarpenterIamArgs(
        cfg, eks.cluster, eks.oidc, eks.node_role, eks.key, list(eks.network.private_subnets)))


def karpenter_nodes_for(cfg: StackConfig, output: Callable[[str], pulumi.Output], cluster: ClusterResult) -> KarpenterNodes:
    """Workloads phase: the controller and GPU NodePools, from the platform's Karpenter outputs."""
    catalog = load_model_catalog()
    # Consolidate no sooner than the slowest release takes to come back.
    slowest = max(cold_start_seconds(catalog.model(r.model).weights_gb,
                                     downloads_in_process=r.weights_source != "bucket") for r in cfg.releases.values())
    return KarpenterNodes(f"{cfg.stack}-karpenter", KarpenterNodesArgs(
        cfg, output("karpenterQueueName"), output("karpenterRoleArn"), cluster.cluster_name,
        output("nodeRoleName"), output("kmsKeyArn"), cluster.provider, slowest))
