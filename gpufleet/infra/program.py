"""The Pulumi program: load config, pick the cloud, build, export.

Kept as a function (not module-level code) so the offline preview can run it
once per stack in one process.
"""

from __future__ import annotations

import pulumi

from gpufleet.core.config import StackConfig
from gpufleet.infra.stack_config import read_pulumi_config
from gpufleet.infra.components.base import ClusterResult
from gpufleet.infra.components.model_server import ModelServer, ModelServerArgs
from gpufleet.infra.components.observability import build_observability
from gpufleet.core.workloads import release_params
from gpufleet.core.errors import StackConfigError


def build_cluster(cfg: StackConfig) -> ClusterResult:
    name = f"{cfg.stack}"
    if cfg.cloud == "aws":
        from gpufleet.infra.components.aws import AwsArgs, AwsGpuCluster
        from gpufleet.infra.autoscaling_wiring import karpenter_for
        eks = AwsGpuCluster(name, AwsArgs(config=cfg))
        karpenter_for(cfg, eks)
        return eks.result
    from gpufleet.infra.components.alicloud import AlicloudArgs, AlicloudGpuCluster
    return AlicloudGpuCluster(name, AlicloudArgs(config=cfg)).result


def deploy_model_servers(cfg: StackConfig, cluster: ClusterResult) -> dict[str, ModelServer]:
    """One ModelServer per configured release, through the cluster's explicit provider."""
    if cfg.cloud == "aws":
        # EKS GPU AMIs carry the driver but not the device plugin; ACK GPU pools install their own.
        from gpufleet.infra.components.model_server import GpuDevicePlugin, GpuDevicePluginArgs
        from gpufleet.core.workloads import gpu_plugin_params
        GpuDevicePlugin(f"{cfg.stack}-nvidia", GpuDevicePluginArgs(gpu_plugin_params(cfg), cluster.provider))
    late = {"weights_bucket_url": cluster.weights_bucket_url,
            "weights_reader_role_arn": cluster.weights_reader_role_arn,
            "registry_url": cluster.registry_url}
    from gpufleet.infra.autoscaling_wiring import keda_for
    keda = keda_for(cfg, cluster)
    return {name: ModelServer(f"{cfg.stack}-{name}",
                              ModelServerArgs(release_params(cfg, name, release), cluster.provider, late, keda=[keda.release]))
            for name, release in cfg.releases.items()}


def export_stack(cfg: StackConfig, cluster: ClusterResult, servers: dict[str, ModelServer]) -> None:
    pulumi.export("cloud", cfg.cloud)
    pulumi.export("region", cfg.region)
    pulumi.export("jurisdiction", cfg.jurisdiction)
    pulumi.export("clusterName", cluster.cluster_name)
    pulumi.export("kubeconfig", cluster.kubeconfig)
    pulumi.export("vpcId", cluster.vpc_id)
    pulumi.export("registryUrl", cluster.registry_url)
    pulumi.export("weightsBucketUrl", cluster.weights_bucket_url)
    pulumi.export("gpuPool", {
        "instanceType": cfg.gpu_pool.instance_type,
        "gpuModel": cfg.gpu_model,
        "gpusPerNode": cfg.gpus_per_node,
        "minSize": cfg.gpu_pool.min_size,
        "desiredSize": cfg.gpu_pool.desired_size,
        "maxSize": cfg.gpu_pool.max_size,
        "capacity": cfg.gpu_pool.capacity,
        "nodeSelector": cluster.gpu_node_selector,
        "tolerations": cluster.gpu_tolerations,
    })
    pulumi.export("releases", {name: {"model": cfg.releases[name].model, "namespace": server.namespace,
                                      "endpoint": server.endpoint, "replicas": cfg.releases[name].replicas}
                               for name, server in servers.items()})


def stack_cost(cfg: StackConfig) -> dict:
    """The cost export; an instance type without a price stops the program like bad config."""
    from gpufleet.core.cost import PriceNotFoundError, compute_stack_cost, default_price_catalog, stack_cost_outputs
    from gpufleet.core.cost.capacity import capacity_outputs
    from gpufleet.core.cost_inputs import cost_inputs_for, fx_for, gpu_pool_range
    try:
        cost = compute_stack_cost(cost_inputs_for(cfg), default_price_catalog(), fx_for(cfg))
        capacity = capacity_outputs(gpu_pool_range(cfg), default_price_catalog(), fx_for(cfg))
    except PriceNotFoundError as exc:
        key = "gpufleet:gpuPool.instanceType" if cfg.gpu_pool.instance_type in str(exc) else "gpufleet:systemPool.instanceType"
        raise StackConfigError(cfg.stack, key, str(exc).removeprefix(f"stack '{cfg.stack}': ")) from None
    # the GPU pool's floor, desired size and ceiling across the instance types it may use
    return {**stack_cost_outputs(cost), "gpu_capacity": capacity}


def main() -> None:
    cfg = read_pulumi_config()  # raises StackConfigError before any resource exists
    cost = stack_cost(cfg)      # so does an unpriced instance type
    cluster = build_cluster(cfg)
    servers = deploy_model_servers(cfg, cluster)
    build_observability(cfg, cluster, servers)  # metrics pipeline, SLO alerts, dashboards (after the servers)
    export_stack(cfg, cluster, servers)
    from gpufleet.infra.components.moderation import deploy_moderation
    stage = deploy_moderation(cfg, cluster, servers)  # None unless the stack declares moderation
    if cfg.traffic is not None:
        from gpufleet.infra.components.traffic import build_traffic
        build_traffic(cfg, cluster, cfg.traffic, cfg.releases,
                      pulumi.ResourceOptions(depends_on=[*servers.values(), *([stage] if stage else [])]))
    pulumi.export("cost", cost)
