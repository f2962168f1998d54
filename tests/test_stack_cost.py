"""Each stack's cost export comes from the same config as its resources, and the
counts the cost engine bills match what the program registers."""

from decimal import Decimal

import pytest

from conftest import cached_preview, edited_stack, shipped_stacks
from gpufleet.core.cost import compute_stack_cost, default_price_catalog, stack_cost_outputs
from gpufleet.preview.engine import preview_stack
from gpufleet.core.config import load_stack
from gpufleet.core.cost.capacity import capacity_outputs
from gpufleet.core.cost_inputs import gpu_pool_range, cost_inputs_for, fx_for, weights_in_bucket_gb

STACKS = shipped_stacks()


@pytest.mark.parametrize("stack", STACKS)
def test_exported_cost_is_the_cost_of_the_config(stack):
    cfg = load_stack(stack)
    expected = stack_cost_outputs(compute_stack_cost(cost_inputs_for(cfg), default_price_catalog(), fx_for(cfg)))
    capacity = capacity_outputs(gpu_pool_range(cfg), default_price_catalog(), fx_for(cfg))
    assert cached_preview(stack).outputs["cost"] == {**expected, "gpu_capacity": capacity}
    assert expected["billing_currency"] == ("CNY" if cfg.cloud == "alicloud" else "USD")
    assert set(expected["totals"]) == {expected["billing_currency"], "USD"}


@pytest.mark.parametrize("stack", STACKS)
def test_billed_counts_match_registered_resources(stack):
    p = cached_preview(stack)
    inputs = cost_inputs_for(load_stack(stack))
    count = lambda t: sum(r.type == t for r in p.resources)  # noqa: E731
    if inputs.cloud == "aws":
        assert inputs.nat_gateways == count("aws:ec2/natGateway:NatGateway")
        assert inputs.public_ips == count("aws:ec2/eip:Eip")
        assert inputs.clusters == count("aws:eks/cluster:Cluster")
        groups = {r.name.rsplit("-", 1)[1]: r.inputs for r in p.resources if r.type == "aws:eks/nodeGroup:NodeGroup"}
        system = next(pool for pool in inputs.node_pools if pool.name == "system")
        assert groups["system"]["instanceTypes"] == [system.instance_type]
        assert groups["system"]["scalingConfig"]["desiredSize"] == system.desired
        assert groups["system"]["scalingConfig"]["maxSize"] == system.max
        # GPU nodes: Karpenter's GPU limit is the billed maximum; the first allowed type is the billed one
        (nodepool,) = [r.inputs for r in p.resources if r.type == "kubernetes:karpenter.sh/v1:NodePool"]
        gpu = next(pool for pool in inputs.node_pools if pool.name == "gpu")
        types = next(r["values"] for r in nodepool["spec"]["template"]["spec"]["requirements"]
                     if r["key"] == "node.kubernetes.io/instance-type")
        assert types[0] == gpu.instance_type and types == list(gpu_pool_range(load_stack(stack)).instance_types)
        assert int(nodepool["spec"]["limits"]["nvidia.com/gpu"]) == gpu.max * load_stack(stack).gpus_per_node
    else:
        assert inputs.nat_gateways == count("alicloud:vpc/natGateway:NatGateway")
        assert inputs.public_ips == count("alicloud:ecs/eipAddress:EipAddress")
        assert inputs.clusters == count("alicloud:cs/managedKubernetes:ManagedKubernetes")
        pools = {r.name.rsplit("-", 1)[1]: r.inputs for r in p.resources if r.type == "alicloud:cs/nodePool:NodePool"}
        for pool in inputs.node_pools:
            # the line items bill the first choice; the capacity range prices every listed type
            assert pools[pool.name]["instanceTypes"][0] == pool.instance_type
            assert pools[pool.name]["scalingConfig"]["maxSize"] == pool.max
            assert pools[pool.name]["systemDiskSize"] == pool.disk_gb
        assert pools["gpu"]["instanceTypes"] == list(gpu_pool_range(load_stack(stack)).instance_types)


def test_bucket_holds_the_weights_of_bucket_releases_only():
    assert weights_in_bucket_gb(load_stack("prod-cn-hangzhou")) == 0  # ModelScope releases
    us = load_stack("prod-us-east-1")  # Qwen2.5-7B + Qwen3-8B from S3
    from gpufleet.core.model_catalog import load_model_catalog
    cat = load_model_catalog()
    want = Decimal(str(cat.model("Qwen2.5-7B-Instruct").weights_gb)) + Decimal(str(cat.model("Qwen3-8B").weights_gb))
    assert weights_in_bucket_gb(us) == want


def test_stack_fx_override_converts_with_the_stacks_rate_and_date():
    p = preview_stack("prod-cn-hangzhou", text=edited_stack("prod-cn-hangzhou", {"gpufleet:cnyPerUsd": "7.00",
                                                                               "gpufleet:fxAsOf": "2026-11-01"}))
    cost = p.outputs["cost"]
    cny = Decimal(cost["totals"]["CNY"]["desired"]["monthly"])
    assert Decimal(cost["totals"]["USD"]["desired"]["monthly"]) == (cny / Decimal("7.00")).quantize(Decimal("0.01"))
    assert cost["fx"]["as_of"] == "2026-11-01"
