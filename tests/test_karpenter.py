"""Karpenter NodePool and EC2NodeClass from a stack's GPU capacity plan: upstream-CRD valid, capped, hardened."""

from __future__ import annotations

from conftest import edited_stack
from gpufleet.core.config import load_stack, parse_stack_config
from gpufleet.core.crds import crd_errors
from gpufleet.core.gpu_capacity import gpu_capacity_plan
from gpufleet.core.karpenter import NodeClassInputs, ec2_node_class, node_pools

import yaml

LABELS = {"app.kubernetes.io/part-of": "gpufleet"}
NODE_LABELS = {"gpufleet.io/pool": "gpu", "gpufleet.io/gpu-model": "L40S-48GB"}
INPUTS = NodeClassInputs(cluster_name="gpufleet-prod-us-east-1", node_role_name="gpufleet-node-role",
                         kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/abc", disk_size_gb=300,
                         ami_alias="al2023@v20260828", tags={"stack": "prod-us-east-1"})


def stack_with(changes: dict) -> object:
    raw = yaml.safe_load(edited_stack("prod-us-east-1", changes))["config"]
    from gpufleet.core.config import project_config_defaults
    return parse_stack_config("prod-us-east-1", {**project_config_defaults(), **raw})


def test_on_demand_pool_is_one_nodepool_capped_at_the_pool_ceiling():
    (pool,) = node_pools(gpu_capacity_plan(load_stack("prod-us-east-1")), NODE_LABELS, LABELS, 600)
    assert crd_errors(pool) == []
    spec = pool["spec"]
    assert spec["limits"] == {"nvidia.com/gpu": "16", "cpu": "384"}
    reqs = {r["key"]: r["values"] for r in spec["template"]["spec"]["requirements"]}
    assert reqs["node.kubernetes.io/instance-type"] == ["g6e.2xlarge", "g6e.12xlarge", "g6e.48xlarge"]
    assert reqs["topology.kubernetes.io/zone"] == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert reqs["karpenter.sh/capacity-type"] == ["on-demand"]
    assert spec["template"]["spec"]["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    assert spec["template"]["metadata"]["labels"] == NODE_LABELS
    assert spec["disruption"]["budgets"] == [{"nodes": "1"}]


def test_spot_above_a_floor_splits_the_ceiling_between_two_weighted_pools():
    cfg = stack_with({"gpufleet:gpuPool.capacity": "spot", "gpufleet:gpuPool.onDemandFloor": 2})
    on_demand, spot = node_pools(gpu_capacity_plan(cfg), NODE_LABELS, LABELS, 600)
    for pool in (on_demand, spot):
        assert crd_errors(pool) == []
    assert (on_demand["spec"]["weight"], spot["spec"]["weight"]) == (100, 10)
    gpus = [int(p["spec"]["limits"]["nvidia.com/gpu"]) for p in (on_demand, spot)]
    assert gpus == [2, 14] and sum(gpus) == 16  # the floor first, spot above it, one ceiling
    capacity = {p["metadata"]["name"]: next(r["values"] for r in p["spec"]["template"]["spec"]["requirements"]
                                            if r["key"] == "karpenter.sh/capacity-type") for p in (on_demand, spot)}
    assert capacity == {"gpu-on-demand": ["on-demand"], "gpu-spot": ["spot", "on-demand"]}


def test_node_class_is_imdsv2_only_with_encrypted_volumes():
    node_class = ec2_node_class(INPUTS, LABELS)
    assert crd_errors(node_class) == []
    spec = node_class["spec"]
    assert spec["metadataOptions"]["httpTokens"] == "required"
    assert spec["metadataOptions"]["httpPutResponseHopLimit"] == 1
    ebs = spec["blockDeviceMappings"][0]["ebs"]
    assert (ebs["encrypted"], ebs["kmsKeyID"], ebs["volumeType"], ebs["volumeSize"]) == (
        True, INPUTS.kms_key_arn, "gp3", "300Gi")
    assert spec["amiSelectorTerms"] == [{"alias": "al2023@v20260828"}]  # pinned, never @latest


def test_a_misspelt_nodepool_field_is_caught_by_the_crd():
    (pool,) = node_pools(gpu_capacity_plan(load_stack("prod-us-east-1")), NODE_LABELS, LABELS, 600)
    pool["spec"]["limit"] = pool["spec"].pop("limits")
    assert crd_errors(pool) == ["spec: Additional properties are not allowed ('limit' was unexpected)"]
