"""ACK add-ons and the version pin, taken from what the region offers.

- Terway (shared-ENI `terway-eniip`) with NetworkPolicy on: Flannel does not
  enforce NetworkPolicy at all, so every default-deny would be a silent no-op.
- `aliyun-acr-credential-helper`: pods pull from ACR Enterprise with short-lived
  tokens it keeps in pull secrets (no static password anywhere).
- `ack-pod-identity-webhook`: injects the RRSA OIDC token the model servers'
  RAM role needs (the namespace label alone does nothing without it).
"""

from __future__ import annotations

import json
from typing import Sequence

import pulumi
import pulumi_alicloud as alicloud

from gpufleet.core.catalog_ack import newest_patch
from gpufleet.core.config import StackConfig
from gpufleet.core.errors import StackConfigError
from gpufleet.core.naming import acr_instance_name
from gpufleet.core.scheduling import release_namespace

# ACK "Use network policies": Terway in shared-ENI mode, NetworkPolicy enabled.
TERWAY = "terway-eniip"
TERWAY_CONFIG = {"IPVlan": "false", "NetworkPolicy": "true", "ENITrunking": "false"}
BASE_ADDONS = ("csi-plugin", "csi-provisioner", "ack-node-problem-detector")
ACR_HELPER = "aliyun-acr-credential-helper"
RRSA_WEBHOOK = "ack-pod-identity-webhook"


def cluster_addons(log_project: pulumi.Input[str]) -> list[alicloud.cs.ManagedKubernetesAddonArgs]:
    """Add-ons installed with the cluster: the CNI must be there before any node joins."""
    return ([alicloud.cs.ManagedKubernetesAddonArgs(name=TERWAY, config=json.dumps(TERWAY_CONFIG, sort_keys=True))]
            + [alicloud.cs.ManagedKubernetesAddonArgs(name=n) for n in BASE_ADDONS]
            + [alicloud.cs.ManagedKubernetesAddonArgs(
                name="logtail-ds", config=pulumi.Output.from_input(log_project).apply(
                    lambda p: f'{{"IngressDashboardEnabled":"false","sls_project_name":"{p}"}}'))])


def choose_version(stack: str, region: str, minor: str, offered: Sequence[str]) -> str:
    chosen = newest_patch(minor, offered)
    if chosen is None:
        raise StackConfigError(stack, "gpufleet:cluster.kubernetesVersion",
                               f"ACK in {region} offers no {minor}.x for new clusters "
                               f"(offered: {', '.join(sorted(offered)) or 'none'})")
    return chosen


def offered_version(cfg: StackConfig) -> str:
    """Ask the region which versions it offers now (an invoke each run, before the cluster is registered) and
    pick the pinned minor's newest patch; a minor it does not offer stops the run like bad config."""
    metadata = alicloud.cs.get_kubernetes_version(cluster_type="ManagedKubernetes", profile="Default")
    return choose_version(cfg.stack, cfg.region, cfg.cluster.kubernetes_version,
                          [m.version for m in metadata.metadatas or []])


def acr_helper_config(cfg: StackConfig, instance_id: str) -> str:
    """Which ACR instance and domains the helper issues pull secrets for, and into which namespaces."""
    from gpufleet.core.autoscaling_addons import KEDA_NAMESPACE
    from gpufleet.infra.components.traffic import GATEWAY_NAMESPACE
    host = acr_instance_name(cfg.stack)
    namespaces = sorted({release_namespace(r) for r in cfg.releases} | {GATEWAY_NAMESPACE, KEDA_NAMESPACE})
    return json.dumps({
        "AcrInstanceInfo": [{
            "instanceId": instance_id, "regionId": cfg.region,
            "domains": f"{host}-registry-vpc.{cfg.region}.cr.aliyuncs.com,{host}-registry.{cfg.region}.cr.aliyuncs.com",
        }],
        "watchNamespace": ",".join(namespaces),
        "serviceAccount": "*",
        "expiringThreshold": "15m",
    }, sort_keys=True)


def install_addons(name: str, cfg: StackConfig, parent: pulumi.Resource, cluster: alicloud.cs.ManagedKubernetes,
                   registry: alicloud.cr.RegistryEnterpriseInstance,
                   nodes: list[pulumi.Resource]) -> dict[str, alicloud.cs.KubernetesAddon]:
    """Add-ons that run as pods: after the nodes they schedule on (and the registry they serve)."""
    return {
        ACR_HELPER: alicloud.cs.KubernetesAddon(
            f"{name}-{ACR_HELPER}", cluster_id=cluster.id, name=ACR_HELPER,
            config=registry.id.apply(lambda i: acr_helper_config(cfg, i)),
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[*nodes, registry])),
        RRSA_WEBHOOK: alicloud.cs.KubernetesAddon(
            f"{name}-{RRSA_WEBHOOK}", cluster_id=cluster.id, name=RRSA_WEBHOOK,
            opts=pulumi.ResourceOptions(parent=parent, depends_on=nodes)),
    }
