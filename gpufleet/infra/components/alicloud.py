"""Alibaba Cloud (mainland China): VPC, NAT, ACK Pro with a system and a GPU pool, ACR and an OSS weights bucket.

Secure by default: the API server gets no public EIP, secrets are envelope-
encrypted with a rotating KMS key, control-plane and audit logs go to an SLS
project in the same region kept >= 184 days, nodes have no public IPs and
leave through SNAT, the registry is reached over its VPC endpoint, and the
weights bucket is private, versioned and KMS-encrypted.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_alicloud as alicloud
import pulumi_kubernetes as k8s

from gpufleet.core import iam_documents as docs, naming
from gpufleet.core.catalog import load_instance_catalog
from gpufleet.core.config import NodePool, StackConfig
from gpufleet.core.gpu_capacity import ack_scaling_settings, gpu_capacity_plan
from gpufleet.core.netplan import plan_subnets
from gpufleet.infra.components.base import (
    GPU_TAINT_EFFECT, GPU_TAINT_KEY, GPU_TAINT_VALUE, MODEL_SERVER_SA_SUBJECT, AlicloudExtras, ClusterResult,
    gpu_node_selector, gpu_tolerations, pool_labels, resource_name,
)

CONTROL_PLANE_LOG_COMPONENTS = ["apiserver", "kcm", "scheduler", "ccm", "controlplane-events"]
ACK_PRO = "ack.pro.small"


@dataclass(frozen=True)
class AlicloudArgs:
    config: StackConfig


class AlicloudNetwork(pulumi.ComponentResource):
    """VPC with a node vSwitch per zone, and an enhanced NAT gateway whose EIP is the only way out."""

    def __init__(self, name: str, cfg: StackConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:alicloud:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = cfg.tags
        private_cidrs, public_cidrs = plan_subnets(cfg.network.vpc_cidr, len(cfg.network.zones))
        self.vpc = alicloud.vpc.Network(f"{name}-vpc", vpc_name=resource_name(cfg), cidr_block=cfg.network.vpc_cidr,
                                        tags=tags, opts=child)
        self.vswitches = [
            alicloud.vpc.Switch(f"{name}-nodes-{zone}", vpc_id=self.vpc.id, zone_id=zone, cidr_block=cidr,
                                vswitch_name=f"{resource_name(cfg)}-nodes-{zone}", tags=tags, opts=child)
            for zone, cidr in zip(cfg.network.zones, private_cidrs)
        ]
        nat_vswitch = alicloud.vpc.Switch(f"{name}-nat", vpc_id=self.vpc.id, zone_id=cfg.network.zones[0],
                                          cidr_block=public_cidrs[0], vswitch_name=f"{resource_name(cfg)}-nat",
                                          tags=tags, opts=child)
        self.nat = alicloud.vpc.NatGateway(
            f"{name}-nat", vpc_id=self.vpc.id, vswitch_id=nat_vswitch.id, nat_type="Enhanced",
            payment_type="PayAsYouGo", internet_charge_type="PayByLcu", network_type="internet",
            nat_gateway_name=resource_name(cfg, "nat"), deletion_protection=cfg.cluster.deletion_protection,
            tags=tags, opts=child)
        self.eip = alicloud.ecs.EipAddress(
            f"{name}-nat-eip", address_name=resource_name(cfg, "nat"), bandwidth="200",
            internet_charge_type="PayByTraffic", payment_type="PayAsYouGo", isp="BGP", tags=tags, opts=child)
        association = alicloud.ecs.EipAssociation(f"{name}-nat-eip", allocation_id=self.eip.id,
                                                  instance_id=self.nat.id, instance_type="Nat", opts=child)
        for zone, vswitch in zip(cfg.network.zones, self.vswitches):
            alicloud.vpc.SnatEntry(
                f"{name}-snat-{zone}", snat_table_id=self.nat.snat_table_ids, source_vswitch_id=vswitch.id,
                snat_ip=self.eip.ip_address, snat_entry_name=f"{resource_name(cfg)}-{zone}",
                opts=pulumi.ResourceOptions(parent=self, depends_on=[association]))
        self.register_outputs({"vpc_id": self.vpc.id, "vswitch_ids": [v.id for v in self.vswitches],
                               "nat_eip": self.eip.ip_address})


class AlicloudArtifacts(pulumi.ComponentResource):
    """KMS key, SLS log project, ACR Enterprise registry (VPC endpoint) and the OSS weights bucket."""

    def __init__(self, name: str, cfg: StackConfig, account_id: pulumi.Output[str], network: AlicloudNetwork,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:alicloud:Artifacts", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = cfg.tags
        self.key = alicloud.kms.Key(
            f"{name}-key", description=f"gpufleet {cfg.stack}: ACK secrets, OSS weights, disks",
            key_spec="Aliyun_AES_256", key_usage="ENCRYPT/DECRYPT", protection_level="SOFTWARE",
            automatic_rotation="Enabled", rotation_interval="365d", pending_window_in_days=30,
            deletion_protection="Enabled", tags=tags, opts=child)

        self.log_project = alicloud.log.Project(
            f"{name}-logs", project_name=resource_name(cfg, "logs"),
            description=f"gpufleet {cfg.stack}: ACK control-plane, audit and access logs (mainland region only)",
            tags=tags, opts=child)
        self.audit_store = alicloud.log.Store(
            f"{name}-audit", project_name=self.log_project.project_name, logstore_name="audit",
            retention_period=cfg.cluster.log_retention_days, shard_count=2, auto_split=True,
            max_split_shard_count=16, opts=child)

        self.registry = alicloud.cr.RegistryEnterpriseInstance(
            f"{name}-acr", instance_name=naming.acr_instance_name(cfg.stack), instance_type="Standard",
            payment_type="Subscription", period=12, renewal_status="AutoRenewal", renew_period=12,
            image_scanner="ACR", tags=tags, opts=child)
        alicloud.cs.RegistryEnterpriseNamespace(
            f"{name}-acr-ns", instance_id=self.registry.id, name="gpufleet", auto_create=False,
            default_visibility="PRIVATE", opts=child)
        alicloud.cs.RegistryEnterpriseRepo(
            f"{name}-acr-vllm", instance_id=self.registry.id, namespace="gpufleet", name="vllm-openai",
            repo_type="PRIVATE", summary="vLLM OpenAI-compatible server, mirrored in-region",
            tag_immutability=True, opts=child)
        alicloud.cr.VpcEndpointLinkedVpc(
            f"{name}-acr-vpc", instance_id=self.registry.id, vpc_id=network.vpc.id,
            vswitch_id=network.vswitches[0].id, module_name="Registry",
            enable_create_dns_record_in_pvzt=True, opts=child)
        self.registry_url = pulumi.Output.from_input(f"{naming.acr_vpc_host(cfg.stack, cfg.region)}/gpufleet")

        self.bucket_name = account_id.apply(lambda a: f"{resource_name(cfg, 'weights')}-{a}"[:63])
        self.bucket = alicloud.oss.Bucket(
            f"{name}-weights", bucket=self.bucket_name, acl="private", redundancy_type="ZRS", storage_class="Standard",
            versioning=alicloud.oss.BucketVersioningArgs(status="Enabled"),
            server_side_encryption_rule=alicloud.oss.BucketServerSideEncryptionRuleArgs(
                sse_algorithm="KMS", kms_master_key_id=self.key.id),
            tags=tags, opts=child)
        alicloud.oss.BucketPublicAccessBlock(f"{name}-weights", bucket=self.bucket.bucket, block_public_access=True,
                                             opts=child)
        self.register_outputs({"key_id": self.key.id, "registry": self.registry_url, "bucket": self.bucket.bucket,
                               "log_project": self.log_project.project_name})


class AlicloudGpuCluster(pulumi.ComponentResource):
    """ACK Pro with RRSA, a system and a GPU node pool, and an explicit Kubernetes provider."""

    def __init__(self, name: str, args: AlicloudArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:alicloud:GpuCluster", name, None, opts)
        cfg = args.config
        child = pulumi.ResourceOptions(parent=self)
        tags = cfg.tags
        account_id = alicloud.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        self.network = AlicloudNetwork(f"{name}-net", cfg, opts=child)
        self.artifacts = AlicloudArtifacts(f"{name}-artifacts", cfg, account_id, self.network, opts=child)
        key, logs = self.artifacts.key, self.artifacts.log_project
        version = load_instance_catalog().cloud("alicloud").kubernetes_versions[cfg.cluster.kubernetes_version].release

        self.cluster = alicloud.cs.ManagedKubernetes(
            f"{name}-ack", name=resource_name(cfg), cluster_spec=ACK_PRO, version=version,
            vswitch_ids=[v.id for v in self.network.vswitches],
            pod_cidr=cfg.network.pod_cidr, service_cidr=cfg.network.service_cidr, proxy_mode="ipvs",
            new_nat_gateway=False,           # our NAT gateway + SNAT above
            slb_internet_enabled=False,      # API server not exposed on a public EIP
            is_enterprise_security_group=True,
            encryption_provider_key=key.id, disable_encryption=False,
            enable_rrsa=True,
            control_plane_log_project=logs.project_name, control_plane_log_ttl=str(cfg.cluster.log_retention_days),
            control_plane_log_components=CONTROL_PLANE_LOG_COMPONENTS,
            audit_log_config=alicloud.cs.ManagedKubernetesAuditLogConfigArgs(enabled=True,
                                                                            sls_project_name=logs.project_name),
            addons=[alicloud.cs.ManagedKubernetesAddonArgs(name=n) for n in
                    ("flannel", "csi-plugin", "csi-provisioner", "ack-node-problem-detector")]
                   + [alicloud.cs.ManagedKubernetesAddonArgs(
                       name="logtail-ds", config=logs.project_name.apply(
                           lambda p: f'{{"IngressDashboardEnabled":"false","sls_project_name":"{p}"}}'))],
            maintenance_window=alicloud.cs.ManagedKubernetesMaintenanceWindowArgs(
                enable=True, maintenance_time="2026-01-04T18:00:00.000Z", duration="4h", weekly_period="Sunday"),
            deletion_protection=cfg.cluster.deletion_protection, timezone="Asia/Shanghai",
            tags=tags, opts=child)

        self.system_pool = self._node_pool(f"{name}-system", cfg, "system", cfg.system_pool, key)
        self.gpu_pool = self._node_pool(f"{name}-gpu", cfg, "gpu", cfg.gpu_pool, key)

        # RRSA: the model-server service account reads weights, nothing else.
        rrsa = self.cluster.rrsa_metadata
        weights_role = alicloud.ram.Role(
            f"{name}-weights-reader", role_name=resource_name(cfg, "weights-reader")[:64],
            description="gpufleet model servers read model weights from the stack's OSS bucket",
            assume_role_policy_document=pulumi.Output.all(rrsa.ram_oidc_provider_arn, rrsa.rrsa_oidc_issuer_url).apply(
                lambda a: docs.ram_rrsa_trust(a[0], a[1], MODEL_SERVER_SA_SUBJECT)),
            max_session_duration=3600, tags=tags, opts=child)
        weights_policy = alicloud.ram.Policy(
            f"{name}-weights-reader", policy_name=resource_name(cfg, "weights-read")[:128],
            policy_document=pulumi.Output.all(self.artifacts.bucket.bucket, key.arn).apply(
                lambda a: docs.ram_weights_read(a[0], a[1])),
            description="Read-only access to the weights bucket and decrypt with the stack key", opts=child)
        alicloud.ram.RolePolicyAttachment(f"{name}-weights-reader", role_name=weights_role.role_name,
                                          policy_name=weights_policy.policy_name, policy_type="Custom", opts=child)

        credential = alicloud.cs.get_cluster_credential_output(
            cluster_id=self.cluster.id, temporary_duration_minutes=60,
            opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[self.system_pool]))
        kubeconfig = pulumi.Output.secret(credential.kube_config)
        provider = k8s.Provider(f"{name}-k8s", kubeconfig=kubeconfig, enable_server_side_apply=True,
                                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.system_pool]))
        self.result = ClusterResult(
            cluster_name=self.cluster.name,
            kubeconfig=kubeconfig,
            provider=provider,
            gpu_node_selector=gpu_node_selector(cfg),
            gpu_tolerations=gpu_tolerations(),
            registry_url=self.artifacts.registry_url,
            weights_bucket_url=self.artifacts.bucket.bucket.apply(lambda b: f"oss://{b}"),
            weights_reader_role_arn=weights_role.arn,
            vpc_id=self.network.vpc.id,
            alicloud=AlicloudExtras(self.cluster.id, rrsa.ram_oidc_provider_arn, rrsa.rrsa_oidc_issuer_url,
                                    logs.project_name),
        )
        self.register_outputs({"cluster_id": self.cluster.id, "kubeconfig": kubeconfig,
                               "gpu_pool_id": self.gpu_pool.id})

    def _node_pool(self, name: str, cfg: StackConfig, pool_name: str, pool: NodePool,
                   key: alicloud.kms.Key) -> alicloud.cs.NodePool:
        taints = [alicloud.cs.NodePoolTaintArgs(key=GPU_TAINT_KEY, value=GPU_TAINT_VALUE, effect=GPU_TAINT_EFFECT)] \
            if pool_name == "gpu" else None
        # The GPU pool may use every fitting type, in order (stockouts); the system pool is one type.
        capacity = ack_scaling_settings(gpu_capacity_plan(cfg)) if pool_name == "gpu" else {
            "instance_types": [pool.instance_type], "spot_strategy": "NoSpot"}
        return alicloud.cs.NodePool(
            name, cluster_id=self.cluster.id, node_pool_name=f"{pool_name}-{pool.instance_type.replace('.', '-')}"[:63],
            vswitch_ids=[v.id for v in self.network.vswitches], **capacity,
            instance_charge_type="PostPaid",
            scaling_config=alicloud.cs.NodePoolScalingConfigArgs(enable=True, min_size=pool.min_size,
                                                                 max_size=pool.max_size, type="cpu" if pool_name == "system" else "gpu"),
            image_type="AliyunLinux3", runtime_name="containerd",
            system_disk_category="cloud_essd", system_disk_size=pool.disk_size_gb, system_disk_encrypted=True,
            system_disk_kms_key=key.id,
            instance_metadata_options=alicloud.cs.NodePoolInstanceMetadataOptionsArgs(http_tokens="required"),
            labels=[alicloud.cs.NodePoolLabelArgs(key=k, value=v) for k, v in pool_labels(cfg, pool_name).items()],
            taints=taints,
            management=alicloud.cs.NodePoolManagementArgs(enable=True, auto_repair=True, auto_vul_fix=True,
                                                          max_unavailable=1),
            install_cloud_monitor=True, security_hardening_os=True,
            tags=cfg.tags, opts=pulumi.ResourceOptions(parent=self))
