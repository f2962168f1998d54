"""AWS platform phase: VPC, EKS with a system and a GPU node group, ECR and an S3 weights bucket.

No Kubernetes object is created here: the workloads phase (gpufleet.infra.workloads)
reaches the private API server in a later run, from inside the VPC.

Secure by default: private API endpoint (public only allow-listed), secrets
envelope-encrypted with a rotating KMS key, every control-plane log type on,
IMDSv2 on every node, private/encrypted/versioned buckets, immutable ECR tags.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from gpufleet.core import iam_documents as docs, naming
from gpufleet.core.config import StackConfig, NodePool
from gpufleet.core.netplan import plan_subnets
from gpufleet.core.registry_billing import registry_billing
from gpufleet.infra.components.base import (
    GPU_TAINT_KEY, GPU_TAINT_VALUE, MODEL_SERVER_SA_SUBJECT, PlatformResult, pool_labels, resource_name,
)
from gpufleet.infra.components.registries import aws_repositories

EKS_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
AMI_TYPES = {"system": "AL2023_x86_64_STANDARD", "gpu": "AL2023_x86_64_NVIDIA"}
CAPACITY = {"on-demand": "ON_DEMAND", "spot": "SPOT"}
# Without it the VPC CNI does not enforce NetworkPolicy and every default-deny is a silent no-op
# (EKS user guide: "Restrict pod network traffic with Kubernetes network policies").
VPC_CNI_CONFIGURATION = '{"enableNetworkPolicy":"true"}'


@dataclass(frozen=True)
class AwsArgs:
    config: StackConfig


class AwsNetwork(pulumi.ComponentResource):
    """VPC across the configured AZs: public subnets with one NAT gateway each, private subnets for nodes."""

    def __init__(self, name: str, cfg: StackConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:aws:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = cfg.tags
        cluster_tag = {f"kubernetes.io/cluster/{resource_name(cfg)}": "shared"}
        private_cidrs, public_cidrs = plan_subnets(cfg.network.vpc_cidr, len(cfg.network.zones))

        self.vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=cfg.network.vpc_cidr, enable_dns_hostnames=True,
                               enable_dns_support=True, tags={**tags, "Name": resource_name(cfg)}, opts=child)
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, tags=tags, opts=child)
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt", vpc_id=self.vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags=tags, opts=child)

        self.private_subnets: list[aws.ec2.Subnet] = []
        self.private_route_tables: list[aws.ec2.RouteTable] = []
        # What a node needs before it boots: its subnet's default route through a NAT gateway.
        self.egress: list[pulumi.Resource] = []
        for zone, private_cidr, public_cidr in zip(cfg.network.zones, private_cidrs, public_cidrs):
            public = aws.ec2.Subnet(
                f"{name}-public-{zone}", vpc_id=self.vpc.id, cidr_block=public_cidr, availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={**tags, **cluster_tag, "kubernetes.io/role/elb": "1", "Name": f"{resource_name(cfg)}-public-{zone}"},
                opts=child)
            aws.ec2.RouteTableAssociation(f"{name}-public-{zone}", subnet_id=public.id,
                                          route_table_id=public_rt.id, opts=child)
            eip = aws.ec2.Eip(f"{name}-nat-{zone}", domain="vpc", tags=tags, opts=child)
            nat = aws.ec2.NatGateway(f"{name}-nat-{zone}", allocation_id=eip.id, subnet_id=public.id,
                                     tags=tags, opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]))
            private = aws.ec2.Subnet(
                f"{name}-private-{zone}", vpc_id=self.vpc.id, cidr_block=private_cidr, availability_zone=zone,
                tags={**tags, **cluster_tag, "kubernetes.io/role/internal-elb": "1", "Name": f"{resource_name(cfg)}-private-{zone}"},
                opts=child)
            rt = aws.ec2.RouteTable(
                f"{name}-private-rt-{zone}", vpc_id=self.vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
                tags=tags, opts=child)
            assoc = aws.ec2.RouteTableAssociation(f"{name}-private-{zone}", subnet_id=private.id,
                                                  route_table_id=rt.id, opts=child)
            self.egress += [nat, assoc]
            self.private_subnets.append(private)
            self.private_route_tables.append(rt)

        # Weights are pulled from S3 through a gateway endpoint: private, and no NAT data charges.
        aws.ec2.VpcEndpoint(f"{name}-s3", vpc_id=self.vpc.id, service_name=f"com.amazonaws.{cfg.region}.s3",
                            vpc_endpoint_type="Gateway", route_table_ids=[rt.id for rt in self.private_route_tables],
                            tags=tags, opts=child)
        self.register_outputs({"vpc_id": self.vpc.id, "private_subnet_ids": [s.id for s in self.private_subnets]})


class AwsArtifacts(pulumi.ComponentResource):
    """The stack's KMS key, ECR repository and S3 weights bucket."""

    def __init__(self, name: str, cfg: StackConfig, account_id: pulumi.Output[str], partition: pulumi.Output[str],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:aws:Artifacts", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = cfg.tags
        self.key = aws.kms.Key(
            f"{name}-key", description=f"gpufleet {cfg.stack}: EKS secrets, ECR, S3 weights, logs",
            enable_key_rotation=True, deletion_window_in_days=30,
            policy=pulumi.Output.all(account_id, partition).apply(lambda a: docs.aws_kms_key_policy(a[0], a[1], cfg.region)),
            tags=tags, opts=child)
        aws.kms.Alias(f"{name}-key-alias", name=f"alias/{resource_name(cfg)}", target_key_id=self.key.key_id, opts=child)

        # One repository per image the workloads phase pulls (`gpufleet mirror` fills them first).
        self.repositories = {
            repo: aws.ecr.Repository(
                f"{name}-{repo.replace('/', '-')}", name=f"gpufleet/{cfg.stack}/{repo}", image_tag_mutability="IMMUTABLE",
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
                encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS", kms_key=self.key.arn)],
                tags=tags, opts=child)
            for repo in aws_repositories(cfg)}
        self.repository = self.repositories["vllm-openai"]

        self.bucket = aws.s3.Bucket(f"{name}-weights", bucket_prefix=f"{resource_name(cfg, 'weights')}-"[:37],
                                    force_destroy=False, tags=tags, opts=child)
        aws.s3.BucketPublicAccessBlock(f"{name}-weights", bucket=self.bucket.id, block_public_acls=True,
                                       block_public_policy=True, ignore_public_acls=True,
                                       restrict_public_buckets=True, opts=child)
        aws.s3.BucketOwnershipControls(f"{name}-weights", bucket=self.bucket.id,
                                       rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
                                       opts=child)
        aws.s3.BucketVersioning(f"{name}-weights", bucket=self.bucket.id,
                                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
                                opts=child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-weights", bucket=self.bucket.id,
            rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms", kms_master_key_id=self.key.arn),
                bucket_key_enabled=True)],
            opts=child)
        aws.s3.BucketPolicy(f"{name}-weights-tls", bucket=self.bucket.id,
                            policy=self.bucket.arn.apply(docs.aws_bucket_tls_only), opts=child)
        self.registry_url = account_id.apply(lambda a: f"{naming.ecr_host(a, cfg.region)}/gpufleet/{cfg.stack}")
        self.register_outputs({"key_arn": self.key.arn, "repository_url": self.repository.repository_url,
                               "bucket": self.bucket.bucket})


class AwsGpuCluster(pulumi.ComponentResource):
    """EKS with IRSA, a system managed node group (GPU nodes come from Karpenter), and an explicit Kubernetes provider."""

    def __init__(self, name: str, args: AwsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:aws:GpuCluster", name, None, opts)  # type token kept: renaming it replaces state
        cfg = args.config
        child = pulumi.ResourceOptions(parent=self)
        tags = cfg.tags
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition

        self.network = AwsNetwork(f"{name}-net", cfg, opts=child)
        self.artifacts = AwsArtifacts(f"{name}-artifacts", cfg, identity.account_id, partition, opts=child)
        key = self.artifacts.key
        cluster_name = resource_name(cfg)

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane", name=f"/aws/eks/{cluster_name}/cluster",
            retention_in_days=cfg.cluster.log_retention_days, kms_key_id=key.arn, tags=tags, opts=child)

        cluster_role = aws.iam.Role(f"{name}-cluster-role", assume_role_policy=docs.aws_service_trust("eks.amazonaws.com"),
                                    tags=tags, opts=child)
        cluster_policy = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-policy", role=cluster_role.name,
            policy_arn=partition.apply(lambda p: f"arn:{p}:iam::aws:policy/AmazonEKSClusterPolicy"), opts=child)

        self.cluster = aws.eks.Cluster(
            f"{name}-eks", name=cluster_name, version=cfg.cluster.kubernetes_version, role_arn=cluster_role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=[s.id for s in self.network.private_subnets],
                endpoint_private_access=True,
                endpoint_public_access=cfg.cluster.public_endpoint,
                public_access_cidrs=list(cfg.cluster.public_access_cidrs) or None),
            access_config=aws.eks.ClusterAccessConfigArgs(authentication_mode="API",
                                                          bootstrap_cluster_creator_admin_permissions=True),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                resources=["secrets"], provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=key.arn)),
            enabled_cluster_log_types=EKS_LOG_TYPES,
            kubernetes_network_config=aws.eks.ClusterKubernetesNetworkConfigArgs(service_ipv4_cidr=cfg.network.service_cidr),
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
            deletion_protection=cfg.cluster.deletion_protection,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, cluster_policy]))

        issuer = self.cluster.identities.apply(lambda ids: ids[0].oidcs[0].issuer)
        self.oidc = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc", url=issuer, client_id_lists=["sts.amazonaws.com"], tags=tags, opts=child)
        issuer_host = issuer.apply(lambda u: u.removeprefix("https://"))

        # VPC CNI gets its own IRSA role, so nodes do not carry network permissions.
        cni_role = self._irsa_role(f"{name}-vpc-cni", issuer_host, "system:serviceaccount:kube-system:aws-node", tags)
        aws.iam.RolePolicyAttachment(f"{name}-vpc-cni", role=cni_role.name,
                                     policy_arn=partition.apply(lambda p: f"arn:{p}:iam::aws:policy/AmazonEKS_CNI_Policy"),
                                     opts=child)

        node_role = aws.iam.Role(f"{name}-node-role", assume_role_policy=docs.aws_service_trust("ec2.amazonaws.com"),
                                 tags=tags, opts=child)
        node_policies = [
            aws.iam.RolePolicyAttachment(f"{name}-node-{short}", role=node_role.name,
                                         policy_arn=partition.apply(lambda p, pol=pol: f"arn:{p}:iam::aws:policy/{pol}"),
                                         opts=child)
            for short, pol in (("worker", "AmazonEKSWorkerNodePolicy"), ("ecr-pull", "AmazonEC2ContainerRegistryPullOnly"))
        ]

        def addon(addon_name: str, role: aws.iam.Role | None = None, after: list[pulumi.Resource] | None = None,
                  configuration: str | None = None) -> aws.eks.Addon:
            return aws.eks.Addon(
                f"{name}-{addon_name}", cluster_name=self.cluster.name, addon_name=addon_name,
                service_account_role_arn=role.arn if role else None, configuration_values=configuration,
                resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
                tags=tags, opts=pulumi.ResourceOptions(parent=self, depends_on=after))

        vpc_cni = addon("vpc-cni", cni_role, configuration=VPC_CNI_CONFIGURATION)
        addon("kube-proxy")
        after = [*node_policies, vpc_cni, *self.network.egress]
        self.system_pool = self._node_group(f"{name}-system", cfg, "system", cfg.system_pool, node_role, key, after)
        # GPU nodes come from Karpenter (components/autoscaling.py), which launches them with this role.
        self.node_role, self.key = node_role, key
        addon("coredns", after=[self.system_pool])  # CoreDNS needs nodes to schedule on

        weights_role = self._irsa_role(f"{name}-weights-reader", issuer_host, MODEL_SERVER_SA_SUBJECT, tags)
        aws.iam.RolePolicy(f"{name}-weights-reader", role=weights_role.id,
                           policy=pulumi.Output.all(self.artifacts.bucket.arn, key.arn).apply(
                               lambda a: docs.aws_weights_read(a[0], a[1])),
                           opts=child)

        self.result = PlatformResult(
            cluster_name=self.cluster.name,
            registry_url=self.artifacts.registry_url,
            weights_bucket_url=self.artifacts.bucket.bucket.apply(lambda b: f"s3://{b}"),
            weights_reader_role_arn=weights_role.arn,
            vpc_id=self.network.vpc.id,
            # The workloads phase builds an `aws eks get-token` kubeconfig from these: no token is stored.
            access={"clusterEndpoint": self.cluster.endpoint,
                    "clusterCa": self.cluster.certificate_authority.data,
                    "oidcProviderArn": self.oidc.arn},
            registry=registry_billing("aws"),
        )
        self.register_outputs({"cluster_name": self.cluster.name, "endpoint": self.cluster.endpoint,
                               "oidc_provider_arn": self.oidc.arn})

    def _irsa_role(self, name: str, issuer_host: pulumi.Output[str], subject: str, tags: dict[str, str]) -> aws.iam.Role:
        trust = pulumi.Output.all(self.oidc.arn, issuer_host).apply(lambda a: docs.aws_irsa_trust(a[0], a[1], subject))
        return aws.iam.Role(name, assume_role_policy=trust, tags=tags, opts=pulumi.ResourceOptions(parent=self))

    def _node_group(self, name: str, cfg: StackConfig, pool_name: str, pool: NodePool, role: aws.iam.Role,
                    key: aws.kms.Key, depends_on: list[pulumi.Resource]) -> aws.eks.NodeGroup:
        tags = cfg.tags
        template = aws.ec2.LaunchTemplate(
            name,
            # IMDSv2 only, and hop limit 1 so pods cannot borrow the node's role.
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1,
                instance_metadata_tags="disabled"),
            block_device_mappings=[aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name="/dev/xvda",
                ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_size=pool.disk_size_gb, volume_type="gp3", encrypted="true", kms_key_id=key.arn,
                    delete_on_termination="true"))],
            tag_specifications=[aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=t, tags=tags)
                                for t in ("instance", "volume")],
            update_default_version=True, tags=tags, opts=pulumi.ResourceOptions(parent=self))
        taints = [aws.eks.NodeGroupTaintArgs(key=GPU_TAINT_KEY, value=GPU_TAINT_VALUE, effect="NO_SCHEDULE")] \
            if pool_name == "gpu" else None
        return aws.eks.NodeGroup(
            name, cluster_name=self.cluster.name, node_role_arn=role.arn,
            subnet_ids=[s.id for s in self.network.private_subnets],
            instance_types=[pool.instance_type], ami_type=AMI_TYPES[pool_name], capacity_type=CAPACITY[pool.capacity],
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(min_size=pool.min_size, desired_size=pool.desired_size,
                                                              max_size=pool.max_size),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(id=template.id, version=template.latest_version.apply(str)),
            labels=pool_labels(cfg, pool_name), taints=taints, tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on,
                                        # the cluster autoscaler owns desired size after creation
                                        ignore_changes=["scalingConfig.desiredSize"]))
