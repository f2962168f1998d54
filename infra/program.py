"""The Pulumi program: load config, pick the cloud, build, export.

Kept as a function (not module-level code) so the offline preview can run it
once per stack in one process.
"""

from __future__ import annotations

import pulumi

from infra.config import StackConfig, read_pulumi_config
from infra.components.base import ClusterResult


def build_cluster(cfg: StackConfig) -> ClusterResult:
    name = f"{cfg.stack}"
    if cfg.cloud == "aws":
        from infra.components.aws import AwsArgs, AwsGpuCluster
        return AwsGpuCluster(name, AwsArgs(config=cfg)).result
    from infra.components.alicloud import AlicloudArgs, AlicloudGpuCluster
    return AlicloudGpuCluster(name, AlicloudArgs(config=cfg)).result


def export_stack(cfg: StackConfig, cluster: ClusterResult) -> None:
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


def main() -> None:
    cfg = read_pulumi_config()  # raises StackConfigError before any resource exists
    cluster = build_cluster(cfg)
    export_stack(cfg, cluster)
