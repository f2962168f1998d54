"""Alibaba Cloud platform phase (mainland China): VPC, NAT, ACK Pro with Terway, a system and a GPU pool,
ACR and an OSS weights bucket. No Kubernetes object is created here (see gpufleet.infra.workloads).

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

from gpufleet.core import iam_documents as docs
from gpufleet.core.config import NodePool, StackConfig
from gpufleet.core.gpu_capacity import ack_scaling_settings, gpu_capacity_plan
from gpufleet.core.netplan import plan_subnets
from gpufleet.core.podnet import pod_subnets
from gpufleet.infra.components.alicloud_addons import (
    cluster_addons, install_addons,
)
from gpufleet.infra.components.alicloud_registry import AcrRegistry, acr_billing_facts
from gpufleet.infra.components.base import (
    GPU_TAINT_EFFECT, GPU_TAINT_KEY, GPU_TAINT_VALUE, MODEL_SERVER_SA_SUBJECT, PlatformResult,
    pool_labels, resource_name,
)

CONTROL_PLANE_LOG_COMPONENTS = ["apiserver", "kcm", "scheduler", "ccm", "controlplane-events"]
ACK_PRO = "ack.pro.small"


@dataclass(frozen=True)
class AlicloudArgs:
    config: StackConfig
    # The exact ACK version string, from what the region offers (alicloud_addons.offered_version).
    version: str


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
        # Terway: pods take addresses from their own vSwitches, on a secondary CIDR block of the VPC.
        self.pod_cidr = alicloud.vpc.Ipv4CidrBlock(f"{name}-pod-cidr", vpc_id=self.vpc.id,
                                                   secondary_cidr_block=cfg.network.pod_cidr, opts=child)
        after_pod_cidr = pulumi.ResourceOptions(parent=self, depends_on=[self.pod_cidr])
        self.pod_vswitches = [
            alicloud.vpc.Switch(f"{name}-pods-{zone}", vpc_id=self.vpc.id, zone_id=zone, cidr_block=cidr,
                                vswitch_name=f"{resource_name(cfg)}-pods-{zone}", tags=tags, opts=after_pod_cidr)
            for zone, cidr in zip(cfg.network.zones, pod_subnets(cfg.network.pod_cidr, len(cfg.network.zones)))
        ]
        self.snat_entries = [
            alicloud.vpc.SnatEntry(
                f"{name}-snat-{role}-{zone}", snat_table_id=self.nat.snat_table_ids, source_vswitch_id=vswitch.id,
                snat_ip=self.eip.ip_address, snat_entry_name=f"{resource_name(cfg)}-{role}-{zone}",
                opts=pulumi.ResourceOptions(parent=self, depends_on=[association]))
            for role, switches in (("nodes", self.vswitches), ("pods", self.pod_vswitches))
            for zone, vswitch in zip(cfg.network.zones, switches)
        ]
        self.register_outputs({"vpc_id": self.vpc.id, "vswitch_ids": [v.id for v in self.vswitches],
                               "pod_vswitch_ids": [v.id for v in self.pod_vswitches], "nat_eip": self.eip.ip_address})


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

        self.registry = AcrRegistry(f"{name}-registry", cfg, network.vpc.id, network.vswitches[0].id, opts=child)
        self.registry_url = self.registry.registry_url

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
    """ACK Pro with Terway (NetworkPolicy enforced), RRSA and its webhook, the ACR credential helper,
    a system and a GPU node pool."""

    def __init__(self, name: str, args: AlicloudArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:alicloud:GpuCluster", name, None, opts)  # type token kept: renaming replaces state
        cfg = args.config
        child = pulumi.ResourceOptions(parent=self)
        tags = cfg.tags
        account_id = alicloud.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        self.network = AlicloudNetwork(f"{name}-net", cfg, opts=child)
        self.artifacts = AlicloudArtifacts(f"{name}-artifacts", cfg, account_id, self.network, opts=child)
        key, logs = self.artifacts.key, self.artifacts.log_project
        egress = [*self.network.snat_entries, self.network.pod_cidr]

        self.cluster = alicloud.cs.ManagedKubernetes(
            f"{name}-ack", name=resource_name(cfg), cluster_spec=ACK_PRO,
            version=args.version,  # the newest patch ACK offers in the region for the pinned minor
            vswitch_ids=[v.id for v in self.network.vswitches],
            pod_vswitch_ids=[v.id for v in self.network.pod_vswitches],
            service_cidr=cfg.network.service_cidr, proxy_mode="ipvs",
            new_nat_gateway=False,           # our NAT gateway + SNAT above
            slb_internet_enabled=False,      # API server not exposed on a public EIP
            is_enterprise_security_group=True,
            encryption_provider_key=key.id, disable_encryption=False,
            enable_rrsa=True,
            control_plane_log_project=logs.project_name, control_plane_log_ttl=str(cfg.cluster.log_retention_days),
            control_plane_log_components=CONTROL_PLANE_LOG_COMPONENTS,
            audit_log_config=alicloud.cs.ManagedKubernetesAuditLogConfigArgs(enabled=True,
                                                                            sls_project_name=logs.project_name),
            addons=cluster_addons(logs.project_name),
            maintenance_window=alicloud.cs.ManagedKubernetesMaintenanceWindowArgs(
                enable=True, maintenance_time="2026-01-04T18:00:00.000Z", duration="4h", weekly_period="Sunday"),
            deletion_protection=cfg.cluster.deletion_protection, timezone="Asia/Shanghai",
            tags=tags, opts=pulumi.ResourceOptions(parent=self, depends_on=egress))

        # Nodes pull images and register only once they can leave through SNAT.
        self.system_pool = self._node_pool(f"{name}-system", cfg, "system", cfg.system_pool, key, egress)
        self.gpu_pool = self._node_pool(f"{name}-gpu", cfg, "gpu", cfg.gpu_pool, key, egress)
        self.addons = install_addons(f"{name}", cfg, self, self.cluster, self.artifacts.registry.instance,
                                     [self.system_pool])

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

        self.result = PlatformResult(
            cluster_name=self.cluster.name,
            registry_url=self.artifacts.registry_url,
            weights_bucket_url=self.artifacts.bucket.bucket.apply(lambda b: f"oss://{b}"),
            weights_reader_role_arn=weights_role.arn,
            vpc_id=self.network.vpc.id,
            # The workloads phase asks ACK for the API server and CA on every run: no credential is stored.
            # RRSA's OIDC provider and the SLS project serve components after the cluster (moderation stage).
            access={"clusterId": self.cluster.id, "registryInstanceId": self.artifacts.registry.instance.id,
                    "rrsaOidcProviderArn": rrsa.ram_oidc_provider_arn, "rrsaOidcIssuerUrl": rrsa.rrsa_oidc_issuer_url,
                    "logProject": logs.project_name},
            registry=acr_billing_facts(),
        )
        self.register_outputs({"cluster_id": self.cluster.id, "gpu_pool_id": self.gpu_pool.id})

    def _node_pool(self, name: str, cfg: StackConfig, pool_name: str, pool: NodePool,
                   key: alicloud.kms.Key, egress: list[pulumi.Resource]) -> alicloud.cs.NodePool:
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
            tags=cfg.tags, opts=pulumi.ResourceOptions(parent=self, depends_on=egress))
