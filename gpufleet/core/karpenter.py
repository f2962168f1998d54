"""Karpenter's GPU NodePool and EC2NodeClass for an EKS stack, from the GPU capacity plan.

EKS managed node groups never add a node by themselves; Karpenter provisions GPU nodes
for pending model-server pods. The system node group stays a managed node group (it runs
Karpenter itself). Shapes follow Karpenter v1 (the CRDs vendored in k8s/crds/karpenter,
v1.14.1): https://karpenter.sh/docs/concepts/nodepools/ and .../nodeclasses/.

With spot allowed above an on-demand floor, two NodePools split the work: `gpu-on-demand`
(weight 100, limited to the floor's GPUs) fills first, `gpu-spot` (weight 10, spot with
on-demand as Karpenter's own fallback) takes the rest. Limits bound GPUs and CPUs per
NodePool, and the two limits add up to the pool's ceiling, so cost has one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gpufleet.core.gpu_capacity import GpuCapacityPlan
from gpufleet.core.scheduling import GPU_TAINT_EFFECT, GPU_TAINT_KEY, GPU_TAINT_VALUE

NODEPOOL_API = "karpenter.sh/v1"
NODECLASS_API = "karpenter.k8s.aws/v1"
NODE_CLASS_NAME = "gpu"
DISCOVERY_TAG = "karpenter.sh/discovery"


@dataclass(frozen=True)
class NodeClassInputs:
    """Facts only the cluster knows (names and ARNs), passed in by the platform phase."""

    cluster_name: str
    node_role_name: str
    kms_key_arn: str
    disk_size_gb: int
    ami_alias: str
    tags: dict[str, str]


def ec2_node_class(inputs: NodeClassInputs, labels: dict[str, str]) -> dict[str, Any]:
    """IMDSv2 only (hop limit 1) and encrypted gp3 root volumes, like the managed groups' launch template."""
    discovery = [{"tags": {DISCOVERY_TAG: inputs.cluster_name}}]
    return {
        "apiVersion": NODECLASS_API, "kind": "EC2NodeClass",
        "metadata": {"name": NODE_CLASS_NAME, "labels": labels},
        "spec": {
            "role": inputs.node_role_name,
            "amiSelectorTerms": [{"alias": inputs.ami_alias}],
            "subnetSelectorTerms": discovery,
            "securityGroupSelectorTerms": discovery,
            "metadataOptions": {"httpEndpoint": "enabled", "httpProtocolIPv6": "disabled",
                                "httpPutResponseHopLimit": 1, "httpTokens": "required"},
            "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {
                "volumeSize": f"{inputs.disk_size_gb}Gi", "volumeType": "gp3", "encrypted": True,
                "kmsKeyID": inputs.kms_key_arn, "deleteOnTermination": True}}],
            "tags": inputs.tags,
        },
    }


def node_pools(plan: GpuCapacityPlan, node_labels: dict[str, str], labels: dict[str, str],
               consolidate_after_s: int) -> list[dict[str, Any]]:
    """One NodePool (on-demand) or two (on-demand floor + spot above it)."""
    per_node_gpus = plan.gpu_limit // plan.max_nodes
    cpu_per_gpu = plan.cpu_limit / plan.gpu_limit
    if not plan.spot:
        return [_node_pool("gpu", plan, ("on-demand",), plan.gpu_limit, cpu_per_gpu, 100, node_labels, labels,
                           consolidate_after_s)]
    floor_gpus = plan.on_demand_floor_nodes * per_node_gpus
    pools = []
    if floor_gpus:
        pools.append(_node_pool("gpu-on-demand", plan, ("on-demand",), floor_gpus, cpu_per_gpu, 100, node_labels,
                                labels, consolidate_after_s))
    pools.append(_node_pool("gpu-spot", plan, ("spot", "on-demand"), plan.gpu_limit - floor_gpus, cpu_per_gpu, 10,
                            node_labels, labels, consolidate_after_s))
    return pools


def _node_pool(name: str, plan: GpuCapacityPlan, capacity: tuple[str, ...], gpus: int, cpu_per_gpu: float,
               weight: int, node_labels: dict[str, str], labels: dict[str, str], consolidate_after_s: int) -> dict[str, Any]:
    requirements = [
        {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": list(plan.instance_types)},
        {"key": "topology.kubernetes.io/zone", "operator": "In", "values": list(plan.zones)},
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": list(capacity)},
        {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
    ]
    return {
        "apiVersion": NODEPOOL_API, "kind": "NodePool",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "weight": weight,
            "template": {
                "metadata": {"labels": node_labels},
                "spec": {
                    "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": NODE_CLASS_NAME},
                    "taints": [{"key": GPU_TAINT_KEY, "value": GPU_TAINT_VALUE,
                                "effect": GPU_TAINT_EFFECT}],
                    "requirements": requirements,
                    # Replace nodes monthly (AMI patches); a model server is drained through its PDB.
                    "expireAfter": "720h",
                },
            },
            # The ceiling: GPUs and the CPUs those GPUs may bring on the most CPU-rich allowed type.
            "limits": {"nvidia.com/gpu": str(gpus), "cpu": str(int(gpus * cpu_per_gpu + 0.999))},
            # Consolidate only empty or underused nodes, one node at a time; evictions go through
            # the model servers' PodDisruptionBudgets (maxUnavailable 1), which Karpenter honours.
            "disruption": {"consolidationPolicy": "WhenEmptyOrUnderutilized",
                           "consolidateAfter": f"{consolidate_after_s}s",
                           "budgets": [{"nodes": "1"}]},
        },
    }
