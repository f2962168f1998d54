"""Autoscaling add-ons: KEDA (every stack) and Karpenter with its GPU NodePools (EKS).

`Keda` installs the operator whose CRDs the model servers' ScaledObjects need.
`KarpenterIam` is the AWS side (controller role via IRSA, interruption queue and its
EventBridge rules, subnet and security-group discovery tags); `KarpenterNodes` is the
Kubernetes side (the controller's Helm release, the EC2NodeClass and the GPU NodePools),
each custom resource waiting for the release that installs its CRD.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from gpufleet.core import autoscaling_addons as addons
from gpufleet.core.config import StackConfig
from gpufleet.core.gpu_capacity import gpu_capacity_plan
from gpufleet.core.iam_documents import aws_irsa_trust
from gpufleet.core.karpenter import DISCOVERY_TAG, NodeClassInputs, ec2_node_class, node_pools
from gpufleet.core.karpenter_iam import INTERRUPTION_EVENTS, KarpenterIamInputs, controller_policy, queue_policy
from gpufleet.core.scheduling import pool_labels

LABELS = {"app.kubernetes.io/part-of": "gpufleet", "app.kubernetes.io/managed-by": "pulumi"}
SYSTEM_SELECTOR = {"gpufleet.io/pool": "system"}


@dataclass(frozen=True)
class KedaArgs:
    jurisdiction: str
    registry_url: pulumi.Input[str]
    provider: k8s.Provider
    kubernetes_version: str


class Keda(pulumi.ComponentResource):
    """KEDA in its own namespace (restricted pods, system pool), pinned and in-region."""

    def __init__(self, name: str, args: KedaArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:k8s:Keda", name, None, opts)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.provider)
        minor = ".".join(args.kubernetes_version.split(".")[:2])
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-ns", metadata={"name": addons.KEDA_NAMESPACE, "labels": {
                **LABELS, "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": f"v{minor}"}}, opts=k8s_opts)
        after_ns = pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=[self.namespace]))
        self.network_policies = [
            k8s.networking.v1.NetworkPolicy(f"{name}-netpol-{p['metadata']['name']}",
                                            metadata={**p["metadata"], "labels": LABELS}, spec=p["spec"], opts=after_ns)
            for p in addons.keda_network_policies()]
        chart = pulumi.Output.from_input(args.registry_url).apply(lambda url: addons.keda_chart(args.jurisdiction, url))
        values = pulumi.Output.from_input(args.registry_url).apply(
            lambda url: addons.keda_values(args.jurisdiction, url, SYSTEM_SELECTOR))
        self.release = k8s.helm.v3.Release(
            f"{name}-keda", name="keda", chart=chart.apply(lambda c: c.chart), version=chart.apply(lambda c: c.version),
            repository_opts=chart.apply(lambda c: k8s.helm.v3.RepositoryOptsArgs(repo=c.repo) if c.repo else None),
            namespace=addons.KEDA_NAMESPACE, create_namespace=False, values=values,
            atomic=True, cleanup_on_fail=True, timeout=600,
            opts=pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(
                depends_on=[self.namespace, *self.network_policies])))
        self.register_outputs({"namespace": addons.KEDA_NAMESPACE, "release": self.release.name})


@dataclass(frozen=True)
class KarpenterIamArgs:
    config: StackConfig
    cluster: aws.eks.Cluster
    oidc: aws.iam.OpenIdConnectProvider
    node_role: aws.iam.Role
    kms_key: aws.kms.Key
    private_subnets: list[aws.ec2.Subnet]


class KarpenterIam(pulumi.ComponentResource):
    """The AWS side of Karpenter, created with the cluster (platform phase)."""

    def __init__(self, name: str, args: KarpenterIamArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:aws:KarpenterIam", name, None, opts)
        cfg, child = args.config, pulumi.ResourceOptions(parent=self)
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition
        self.queue = aws.sqs.Queue(f"{name}-interruptions", message_retention_seconds=300,
                                   sqs_managed_sse_enabled=True, tags=cfg.tags, opts=child)
        aws.sqs.QueuePolicy(f"{name}-interruptions", queue_url=self.queue.url,
                            policy=self.queue.arn.apply(queue_policy), opts=child)
        for event, pattern in INTERRUPTION_EVENTS.items():
            rule = aws.cloudwatch.EventRule(f"{name}-{event}", event_pattern=json.dumps(pattern), tags=cfg.tags,
                                            opts=child)
            aws.cloudwatch.EventTarget(f"{name}-{event}", rule=rule.name, arn=self.queue.arn, opts=child)
        issuer = args.cluster.identities.apply(lambda ids: ids[0].oidcs[0].issuer.removeprefix("https://"))
        subject = f"system:serviceaccount:{addons.KARPENTER_NAMESPACE}:{addons.KARPENTER_SERVICE_ACCOUNT}"
        self.role = aws.iam.Role(
            f"{name}-controller", assume_role_policy=pulumi.Output.all(args.oidc.arn, issuer).apply(
                lambda a: aws_irsa_trust(a[0], a[1], subject)), tags=cfg.tags, opts=child)
        inputs = pulumi.Output.all(partition, identity.account_id, args.cluster.name, self.queue.arn,
                                   args.node_role.arn, args.kms_key.arn).apply(
            lambda a: KarpenterIamInputs(a[0], cfg.region, a[1], a[2], a[3], a[4], a[5]))
        aws.iam.RolePolicy(f"{name}-controller", role=self.role.id, policy=inputs.apply(controller_policy), opts=child)
        # Karpenter finds the subnets and security group it launches into by this tag.
        for index, subnet in enumerate(args.private_subnets):
            aws.ec2.Tag(f"{name}-subnet-{index}", resource_id=subnet.id, key=DISCOVERY_TAG, value=args.cluster.name,
                        opts=child)
        aws.ec2.Tag(f"{name}-cluster-sg", key=DISCOVERY_TAG, value=args.cluster.name, opts=child,
                    resource_id=args.cluster.vpc_config.apply(lambda v: v.cluster_security_group_id))
        self.register_outputs({"role_arn": self.role.arn, "queue_name": self.queue.name})


@dataclass(frozen=True)
class KarpenterNodesArgs:
    config: StackConfig
    # From the platform phase's KarpenterIam (through the StackReference): never a credential.
    queue_name: pulumi.Input[str]
    controller_role_arn: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    node_role_name: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    provider: k8s.Provider
    cold_start_s: int


class KarpenterNodes(pulumi.ComponentResource):
    """The controller (Helm, on the system pool), the EC2NodeClass and the GPU NodePools."""

    def __init__(self, name: str, args: KarpenterNodesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:k8s:KarpenterNodes", name, None, opts)
        cfg = args.config
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.provider)
        chart = addons.karpenter_chart()
        values = pulumi.Output.all(args.cluster_name, args.queue_name, args.controller_role_arn).apply(
            lambda a: addons.karpenter_values(a[0], a[1], a[2], SYSTEM_SELECTOR))
        self.release = k8s.helm.v3.Release(
            f"{name}-karpenter", name="karpenter", chart=chart.chart, version=chart.version,
            namespace=addons.KARPENTER_NAMESPACE, create_namespace=False, values=values,
            atomic=True, cleanup_on_fail=True, timeout=600, opts=k8s_opts)
        after_crds = pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=[self.release]))
        node_class = pulumi.Output.all(args.cluster_name, args.node_role_name, args.kms_key_arn).apply(
            lambda a: ec2_node_class(NodeClassInputs(a[0], a[1], a[2], cfg.gpu_pool.disk_size_gb,
                                                     addons.karpenter_ami_alias(), cfg.tags), LABELS))
        self.node_class = k8s.apiextensions.CustomResource(
            f"{name}-nodeclass", api_version="karpenter.k8s.aws/v1", kind="EC2NodeClass",
            metadata=node_class.apply(lambda o: o["metadata"]), spec=node_class.apply(lambda o: o["spec"]),
            opts=after_crds)
        pools = node_pools(gpu_capacity_plan(cfg), pool_labels(cfg, "gpu"), LABELS, args.cold_start_s)
        self.node_pools = [k8s.apiextensions.CustomResource(
            f"{name}-nodepool-{pool['metadata']['name']}", api_version=pool["apiVersion"], kind=pool["kind"],
            metadata=pool["metadata"], spec=pool["spec"],
            opts=pulumi.ResourceOptions.merge(after_crds, pulumi.ResourceOptions(depends_on=[self.node_class])))
            for pool in pools]
        self.register_outputs({"node_pools": [p["metadata"]["name"] for p in pools]})
