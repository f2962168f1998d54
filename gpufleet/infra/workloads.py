"""The workloads phase: everything Kubernetes, through a provider built fresh from the platform's outputs.

It runs after the platform phase and after `gpufleet mirror` / `gpufleet weights
stage` (the runbook, docs/deploy.md), from where the private API server is
reachable. It reads the platform stack's outputs through a StackReference, so
the two phases share no state and a platform change never waits on a pod.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from gpufleet.core.config import StackConfig
from gpufleet.core.workloads import gpu_plugin_params, release_params
from gpufleet.infra.autoscaling_wiring import keda_for
from gpufleet.infra.clouds import binding
from gpufleet.infra.components.base import ClusterResult, gpu_node_selector, gpu_tolerations
from gpufleet.infra.components.gateway_crds import GatewayApiCrds
from gpufleet.infra.components.observability import build_observability
from gpufleet.infra.components.model_server import GpuDevicePlugin, GpuDevicePluginArgs, ModelServer, ModelServerArgs

PLATFORM_PROJECT = "gpufleet"
WORKLOADS_PROJECT = "gpufleet-workloads"
WORKLOADS_SUFFIX = "-workloads"


def platform_stack_name(stack: str) -> str:
    """The platform stack of this region: same stack name, the platform project (this project's name
    without `-workloads`), this organisation."""
    project = pulumi.get_project().removesuffix(WORKLOADS_SUFFIX) or PLATFORM_PROJECT
    return f"{pulumi.get_organization()}/{project}/{stack}"


def platform_reference(cfg: StackConfig) -> pulumi.StackReference:
    return pulumi.StackReference(f"{cfg.stack}-platform", stack_name=platform_stack_name(cfg.stack))


def cluster_from_platform(cfg: StackConfig, ref: pulumi.StackReference) -> ClusterResult:
    """The platform's exports (required: a missing one fails the run before anything is created)."""
    kubeconfig = pulumi.Output.secret(binding(cfg.cloud).kubeconfig(cfg, ref.require_output))
    provider = k8s.Provider(f"{cfg.stack}-k8s", kubeconfig=kubeconfig, enable_server_side_apply=True)
    return ClusterResult(
        cluster_name=ref.require_output("clusterName"),
        kubeconfig=kubeconfig,
        provider=provider,
        gpu_node_selector=gpu_node_selector(cfg),
        gpu_tolerations=gpu_tolerations(),
        registry_url=ref.require_output("registryUrl"),
        weights_bucket_url=ref.require_output("weightsBucketUrl"),
        weights_reader_role_arn=ref.require_output("weightsReaderRoleArn"),
        vpc_id=ref.require_output("vpcId"),
        alicloud=extras(ref.require_output) if (extras := binding(cfg.cloud).extras) else None,
    )


def deploy_model_servers(cfg: StackConfig, cluster: ClusterResult) -> dict[str, ModelServer]:
    """One ModelServer per configured release, through the cluster's explicit provider."""
    if binding(cfg.cloud).installs_device_plugin:
        GpuDevicePlugin(f"{cfg.stack}-nvidia", GpuDevicePluginArgs(gpu_plugin_params(cfg), cluster.provider))
    late = {"weights_bucket_url": cluster.weights_bucket_url,
            "weights_reader_role_arn": cluster.weights_reader_role_arn,
            "registry_url": cluster.registry_url}
    keda = keda_for(cfg, cluster)  # the ScaledObjects wait for its CRDs
    return {name: ModelServer(f"{cfg.stack}-{name}",
                              ModelServerArgs(release_params(cfg, name, release), cluster.provider, late,
                                              keda=[keda.release]))
            for name, release in cfg.releases.items()}


def run_workloads(cfg: StackConfig) -> None:
    ref = platform_reference(cfg)
    cluster = cluster_from_platform(cfg, ref)
    nodes = binding(cfg.cloud).node_provisioner
    if nodes is not None:
        nodes(cfg, ref.require_output, cluster)
    servers = deploy_model_servers(cfg, cluster)
    build_observability(cfg, cluster, servers)  # metrics pipeline, SLO alerts, dashboards (after the servers)
    from gpufleet.infra.components.moderation import deploy_moderation
    stage = deploy_moderation(cfg, cluster, servers)  # None unless the stack declares moderation
    pulumi.export("phase", "workloads")
    pulumi.export("platformStack", platform_stack_name(cfg.stack))
    pulumi.export("kubeconfig", cluster.kubeconfig)
    pulumi.export("releases", {name: {"model": cfg.releases[name].model, "namespace": server.namespace,
                                      "endpoint": server.endpoint, "replicas": cfg.releases[name].replicas}
                               for name, server in servers.items()})
    if cfg.traffic is not None:
        from gpufleet.infra.components.traffic import build_traffic
        crds = GatewayApiCrds(f"{cfg.stack}-gateway-api", cluster.provider)
        build_traffic(cfg, cluster, cfg.traffic, cfg.releases,
                      pulumi.ResourceOptions(depends_on=[*servers.values(), *([stage] if stage else [])]),
                      crds=list(crds.crds.values()))
