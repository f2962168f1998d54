"""Properties every shipped stack must have, whatever its cloud."""

import pytest

from conftest import cached_preview, shipped_stacks
from gpufleet.core.catalog import load_instance_catalog
from gpufleet.core.config import load_stack

STACKS = shipped_stacks()
CN = [s for s in STACKS if load_stack(s).jurisdiction == "cn"]
GLOBAL = [s for s in STACKS if load_stack(s).jurisdiction == "global"]
REQUIRED_TAGS = {"project", "stack", "environment", "team", "cost-centre"}


def test_enough_stacks_on_each_side():
    assert len(CN) >= 2 and len({load_stack(s).region for s in CN}) >= 2
    continents = {load_instance_catalog().cloud("aws").regions[load_stack(s).region].continent for s in GLOBAL}
    assert len(GLOBAL) >= 3 and len(continents) >= 3


@pytest.mark.parametrize("stack", STACKS)
def test_stack_previews_cleanly(stack):
    p = cached_preview(stack)
    assert p.ok, p.error
    assert p.error is None
    assert len(p.resources) > 25


@pytest.mark.parametrize("stack", CN)
def test_china_stack_registers_nothing_on_aws_and_stays_in_mainland(stack):
    p = cached_preview(stack)
    cfg = load_stack(stack)
    mainland = {r for r, f in load_instance_catalog().cloud("alicloud").regions.items() if f.mainland_china}
    assert cfg.region in mainland
    assert not [r for r in p.resources if r.type.startswith("aws:")]
    # pulumi-python: the dynamic resource that sets Alidns weights through Alibaba's own API
    assert {r.type.split(":")[0] for r in p.resources} <= {"alicloud", "gpufleet", "pulumi", "kubernetes", "pulumi-python"}
    zones = [r.inputs["zoneId"] for r in p.resources if r.type == "alicloud:vpc/switch:Switch"]
    assert zones and all(any(z.startswith(m + "-") for m in mainland) for z in zones)
    assert f".{cfg.region}.cr.aliyuncs.com/" in p.outputs["registryUrl"]
    assert p.outputs["weightsBucketUrl"].startswith("oss://")


@pytest.mark.parametrize("stack", GLOBAL)
def test_global_stack_registers_nothing_on_alicloud(stack):
    p = cached_preview(stack)
    cfg = load_stack(stack)
    assert not [r for r in p.resources if r.type.startswith("alicloud:")]
    zones = [r.inputs["availabilityZone"] for r in p.resources if r.type == "aws:ec2/subnet:Subnet"]
    assert zones and all(z.startswith(cfg.region) for z in zones)
    assert p.outputs["weightsBucketUrl"].startswith("s3://")
    assert f".dkr.ecr.{cfg.region}.amazonaws.com/" in p.outputs["registryUrl"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_taggable_resource_carries_the_cost_tags(stack):
    p = cached_preview(stack)
    tagged = [r for r in p.resources if "tags" in r.inputs]
    assert len(tagged) > 10
    for r in tagged:
        assert REQUIRED_TAGS <= set(r.inputs["tags"]), r.name
        assert r.inputs["tags"]["stack"] == stack


@pytest.mark.parametrize("stack", STACKS)
def test_same_result_shape_on_both_clouds(stack):
    p = cached_preview(stack)
    assert {"cloud", "region", "jurisdiction", "clusterName", "kubeconfig", "registryUrl",
            "weightsBucketUrl", "gpuPool", "vpcId"} <= set(p.outputs)
    assert p.outputs["kubeconfig"] == "[secret]"
    pool = p.outputs["gpuPool"]
    cfg = load_stack(stack)
    assert pool["instanceType"] == cfg.gpu_pool.instance_type
    assert pool["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}]
    assert pool["nodeSelector"] == {"gpufleet.io/pool": "gpu", "gpufleet.io/gpu-model": cfg.gpu_model}


@pytest.mark.parametrize("stack", STACKS)
def test_kubernetes_provider_is_explicit_and_its_kubeconfig_secret(stack):
    providers = [r for r in cached_preview(stack).resources if r.type == "pulumi:providers:kubernetes"]
    assert len(providers) == 1
    assert providers[0].inputs["kubeconfig"] == "[secret]"


@pytest.mark.parametrize("stack", STACKS)
def test_components_parent_their_children_with_derived_names(stack):
    p = cached_preview(stack)
    custom = [r for r in p.resources if not r.type.startswith(("gpufleet:", "pulumi:"))]
    assert all(r.name.startswith(stack) for r in custom), [r.name for r in custom if not r.name.startswith(stack)]
