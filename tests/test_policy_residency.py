"""Residency rules, each through its own validate function: one resource that passes, one that does not."""

from __future__ import annotations

from typing import Any

import pytest

from gpufleet.policies import residency
from gpufleet.policies.locations import host_regions, is_mainland, region_of
from gpufleet.policies.model import PolicyContext, StackContext

ACR = "gpufleet-prod-cn-hangzhou-acr-registry-vpc.cn-hangzhou.cr.aliyuncs.com/gpufleet"
VLLM = f"{ACR}/vllm-openai:v0.27.1@sha256:{'0' * 64}"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def ctx(jurisdiction: str = "cn", region: str | None = "cn-hangzhou", **settings: Any) -> PolicyContext:
    stack = "prod-cn-hangzhou" if jurisdiction == "cn" else "prod-us-east-1"
    cloud = "alicloud" if jurisdiction == "cn" else "aws"
    return PolicyContext(StackContext(stack, cloud, region, jurisdiction), settings)


def deployment(*containers: dict, init: tuple[dict, ...] = (), labels: dict | None = None) -> dict:
    labels = labels if labels is not None else {"app.kubernetes.io/component": "model-server", "gpufleet.io/model": "Qwen3-8B"}
    spec: dict[str, Any] = {"containers": list(containers)}
    if init:
        spec["initContainers"] = list(init)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "vllm-blue", "namespace": "llm-blue", "labels": labels},
            "spec": {"template": {"metadata": {"labels": labels}, "spec": spec}}}


def vllm(image: str = VLLM, args: tuple[str, ...] = ("/models/Qwen3-8B", "--port=8000"), **env: str) -> dict:
    env = {"HF_HUB_OFFLINE": "1", **env}
    return {"name": "vllm", "image": image, "command": ["vllm", "serve"], "args": list(args),
            "env": [{"name": k, "value": v} for k, v in env.items()]}


# --------------------------------------------------------------------------- locations


@pytest.mark.parametrize("identifier,region", [
    ("cn-hangzhou", "cn-hangzhou"), ("cn-hangzhou-h", "cn-hangzhou"), ("us-east-1a", "us-east-1"),
    ("ap-southeast-1a", "ap-southeast-1"), ("oss-ap-southeast-1", "ap-southeast-1"), ("cn-hongkong-b", "cn-hongkong"),
    ("gpufleet-prod", None), ("my-weights", None),
])
def test_region_of_regions_zones_and_oss_locations(identifier, region):
    assert region_of(identifier) == region


def test_mainland_facts_from_catalog_and_public_lists():
    assert (is_mainland("cn-hangzhou"), is_mainland("cn-hongkong"), is_mainland("cn-north-1")) == (True, False, True)
    assert (is_mainland("cn-chengdu"), is_mainland("ap-southeast-1"), is_mainland("xx-nowhere-9")) == (True, False, None)


def test_regions_inside_host_names():
    assert host_regions("https://oidc-ack-cn-hangzhou.oss-cn-hangzhou.aliyuncs.com/c1") == ["cn-hangzhou"]
    assert host_regions(ACR) == ["cn-hangzhou"]
    assert host_regions("oss-ap-southeast-1-internal.aliyuncs.com") == ["ap-southeast-1"]
    assert host_regions("com.amazonaws.us-east-1.s3") == ["us-east-1"]
    assert host_regions("https://sts.aliyuncs.com") == []


# --------------------------------------------------------------------------- cn-alicloud-only


def test_cn_stack_may_use_alicloud_kubernetes_and_its_own_components():
    for typ in ("alicloud:oss/bucket:Bucket", DEPLOYMENT, "pulumi:providers:kubernetes", "gpufleet:k8s:ModelServer",
                "pulumi-python:dynamic:Resource"):
        assert residency.cn_alicloud_only(typ, {}, ctx()) == []


def test_cn_stack_rejects_aws_resources_and_providers():
    assert residency.cn_alicloud_only("aws:s3/bucket:Bucket", {}, ctx()) == [
        "aws:s3/bucket:Bucket is a 'aws' resource; a cn stack may only use alicloud, kubernetes, random, tls, "
        "command, gpufleet, pulumi, pulumi-python"]
    assert residency.cn_alicloud_only("pulumi:providers:aws", {}, ctx()) != []


def test_global_stacks_are_not_limited_and_allowed_packages_are_configurable():
    assert residency.cn_alicloud_only("aws:s3/bucket:Bucket", {}, ctx("global", "us-east-1")) == []
    assert residency.cn_alicloud_only("random:index/randomId:RandomId", {}, ctx(allowedPackages=["alicloud"])) == [
        "random:index/randomId:RandomId is a 'random' resource; a cn stack may only use alicloud"]


# --------------------------------------------------------------------------- cn-mainland-locations


SWITCH = "alicloud:vpc/switch:Switch"


def test_mainland_zone_passes():
    assert residency.cn_mainland_locations(SWITCH, {"zoneId": "cn-hangzhou-h", "vpcId": "vpc-1"}, ctx()) == []


def test_hong_kong_zone_is_outside_mainland():
    assert residency.cn_mainland_locations(SWITCH, {"zoneId": "cn-hongkong-b"}, ctx()) == [
        "zoneId = 'cn-hongkong-b' is in cn-hongkong, outside mainland China"]


def test_foreign_endpoints_and_arns_are_caught_anywhere_in_the_inputs():
    props = {"config": {"endpoint": "oss-ap-southeast-1.aliyuncs.com"},
             "policyDocument": "x", "kmsKeyArn": "acs:kms:ap-southeast-1:1234567890123456:key/key-1"}
    assert residency.cn_mainland_locations("alicloud:log/project:Project", props, ctx()) == [
        "config.endpoint = 'oss-ap-southeast-1.aliyuncs.com' is in ap-southeast-1, outside mainland China",
        "kmsKeyArn = 'acs:kms:ap-southeast-1:1234567890123456:key/key-1' is in ap-southeast-1, outside mainland China"]


def test_a_stack_region_outside_mainland_flags_every_cloud_resource():
    assert residency.cn_mainland_locations(SWITCH, {"zoneId": "cn-hongkong-b"}, ctx(region="cn-hongkong")) == [
        "is created in region 'cn-hongkong', which is not in mainland China",
        "zoneId = 'cn-hongkong-b' is in cn-hongkong, outside mainland China"]
    assert residency.cn_mainland_locations("kubernetes:core/v1:Namespace", {}, ctx(region="cn-hongkong")) == []


def test_images_and_transfers_are_left_to_their_own_rules():
    foreign_acr = deployment(vllm(image="x-registry.ap-southeast-1.cr.aliyuncs.com/a/b:1"))
    assert residency.cn_mainland_locations(DEPLOYMENT, foreign_acr, ctx()) == []
    replication = {"destination": {"bucket": "b", "location": "oss-ap-southeast-1"}}
    assert residency.cn_mainland_locations("alicloud:oss/bucketReplication:BucketReplication", replication, ctx()) == []


# --------------------------------------------------------------------------- global-no-china-locations


def test_global_stack_in_us_passes():
    props = {"availabilityZone": "us-east-1a", "serviceName": "com.amazonaws.us-east-1.s3"}
    assert residency.global_no_china_locations("aws:ec2/subnet:Subnet", props, ctx("global", "us-east-1")) == []


def test_global_stack_must_not_touch_china():
    props = {"availabilityZone": "cn-north-1a", "url": "https://s3.cn-northwest-1.amazonaws.com.cn/b"}
    assert residency.global_no_china_locations("aws:ec2/subnet:Subnet", props, ctx("global", "us-east-1")) == [
        "availabilityZone = 'cn-north-1a' is in cn-north-1, a mainland China region",
        "url = 'https://s3.cn-northwest-1.amazonaws.com.cn/b' is in cn-northwest-1, a mainland China region"]
    assert residency.global_no_china_locations("aws:s3/bucket:Bucket", {}, ctx("global", "cn-north-1")) == [
        "is created in region 'cn-north-1', which is in mainland China"]
    assert residency.global_no_china_locations("aws:ec2/subnet:Subnet", props, ctx()) == []  # cn stacks: other rules


# --------------------------------------------------------------------------- cn-no-cross-border-transfer

REPLICATION = "alicloud:oss/bucketReplication:BucketReplication"
ETL = "alicloud:log/etl:Etl"


def test_transfer_types_are_recognised_by_name():
    assert [residency.is_transfer_type(t) for t in (REPLICATION, ETL, "alicloud:log/ossShipper:OssShipper",
            "alicloud:cs/registryEnterpriseSyncRule:RegistryEnterpriseSyncRule", "alicloud:oss/bucket:Bucket",
            "kubernetes:batch/v1:CronJob")] == [True, True, True, True, False, False]


def test_replication_inside_mainland_passes():
    props = {"bucket": "a", "destination": {"bucket": "b", "location": "oss-cn-beijing"}}
    assert residency.cn_no_cross_border_transfer(REPLICATION, props, ctx()) == []


def test_replication_abroad_is_a_cross_border_transfer():
    props = {"bucket": "a", "destination": {"bucket": "b", "location": "oss-ap-southeast-1"}}
    assert residency.cn_no_cross_border_transfer(REPLICATION, props, ctx()) == [
        "sends data to 'oss-ap-southeast-1' (destination.location) in ap-southeast-1, outside mainland China"]


def test_log_shipping_abroad_or_to_unprovable_endpoints_is_caught():
    sinks = {"etlSinks": [{"endpoint": "cn-shanghai.log.aliyuncs.com", "project": "p", "logstore": "a"},
                          {"endpoint": "ap-southeast-1.log.aliyuncs.com", "project": "p", "logstore": "b"},
                          {"endpoint": "https://logs.example.com/ingest", "project": "p", "logstore": "c"}]}
    assert residency.cn_no_cross_border_transfer(ETL, sinks, ctx()) == [
        "sends data to 'ap-southeast-1.log.aliyuncs.com' (etlSinks.1.endpoint) in ap-southeast-1, outside mainland China",
        "sends data to 'https://logs.example.com/ingest' (etlSinks.2.endpoint), which is not an endpoint in a "
        "mainland China region of Alibaba Cloud"]
    mainland = {"etlSinks": [sinks["etlSinks"][0]]}
    assert residency.cn_no_cross_border_transfer(ETL, mainland, ctx()) == []


def test_registry_sync_to_hong_kong_is_caught_and_global_stacks_are_not_judged_here():
    sync = "alicloud:cs/registryEnterpriseSyncRule:RegistryEnterpriseSyncRule"
    props = {"targetRegionId": "cn-hongkong", "targetInstanceId": "cri-1"}
    assert residency.cn_no_cross_border_transfer(sync, props, ctx()) == [
        "sends data to 'cn-hongkong' (targetRegionId) in cn-hongkong, outside mainland China"]
    assert residency.cn_no_cross_border_transfer(sync, props, ctx("global", "us-east-1")) == []


# --------------------------------------------------------------------------- jurisdiction-tag-matches


def test_jurisdiction_tag_must_match_the_stack():
    assert residency.jurisdiction_tag_matches("alicloud:oss/bucket:Bucket", {"tags": {"jurisdiction": "cn"}}, ctx()) == []
    assert residency.jurisdiction_tag_matches("alicloud:oss/bucket:Bucket", {"tags": {"jurisdiction": "global"}}, ctx()) == [
        "is tagged jurisdiction='global' but belongs to a 'cn' stack"]


# --------------------------------------------------------------------------- cn-images-from-acr


def test_images_from_the_stacks_acr_pass():
    fetch = {"name": "fetch-weights", "image": f"{ACR}/ossutil:2.1.0", "command": ["ossutil", "cp", "oss://b/m/", "/models/m/"]}
    assert residency.cn_images_from_acr(DEPLOYMENT, deployment(vllm(), init=(fetch,)), ctx()) == []


@pytest.mark.parametrize("image,message", [
    ("vllm/vllm-openai:v0.27.1", "container 'vllm' pulls 'vllm/vllm-openai:v0.27.1' from docker.io, not from an ACR "
                                 "Enterprise Edition registry (*.cr.aliyuncs.com)"),
    ("nvcr.io/nvidia/k8s-device-plugin:v0.17.1", "container 'vllm' pulls 'nvcr.io/nvidia/k8s-device-plugin:v0.17.1' "
                                                 "from nvcr.io, not from an ACR Enterprise Edition registry (*.cr.aliyuncs.com)"),
    ("registry.cn-hangzhou.aliyuncs.com/a/vllm:1", "container 'vllm' pulls 'registry.cn-hangzhou.aliyuncs.com/a/vllm:1' "
                                                   "from registry.cn-hangzhou.aliyuncs.com, not from an ACR Enterprise "
                                                   "Edition registry (*.cr.aliyuncs.com)"),
    ("x-registry.ap-southeast-1.cr.aliyuncs.com/a/vllm:1", "container 'vllm' pulls "
                                                           "'x-registry.ap-southeast-1.cr.aliyuncs.com/a/vllm:1' from ACR in "
                                                           "ap-southeast-1, outside mainland China"),
    ("x-registry-vpc.cn-beijing.cr.aliyuncs.com/a/vllm:1", "container 'vllm' pulls "
                                                           "'x-registry-vpc.cn-beijing.cr.aliyuncs.com/a/vllm:1' from ACR in "
                                                           "cn-beijing, not the stack's region cn-hangzhou"),
])
def test_images_from_anywhere_else_are_caught(image, message):
    assert residency.cn_images_from_acr(DEPLOYMENT, deployment(vllm(image=image)), ctx()) == [message]


def test_init_containers_count_and_trusted_hosts_are_configurable():
    fetch = {"name": "fetch-weights", "image": "amazon/aws-cli:2.17.0"}
    assert residency.cn_images_from_acr(DEPLOYMENT, deployment(vllm(), init=(fetch,)), ctx()) == [
        "init container 'fetch-weights' pulls 'amazon/aws-cli:2.17.0' from docker.io, not from an ACR Enterprise "
        "Edition registry (*.cr.aliyuncs.com)"]
    assert residency.cn_images_from_acr(DEPLOYMENT, deployment(vllm(), init=(fetch,)),
                                        ctx(allowedRegistryHosts=["docker.io"])) == []
    assert residency.cn_images_from_acr(DEPLOYMENT, deployment(vllm(image="vllm/vllm-openai:1")), ctx("global")) == []


# --------------------------------------------------------------------------- cn-weights-in-region


def test_weights_from_oss_or_modelscope_pass():
    fetch = {"name": "fetch-weights", "image": f"{ACR}/ossutil:2.1.0",
             "command": ["ossutil", "cp", "--recursive", "oss://gpufleet-w/models/Qwen3-8B/", "/models/Qwen3-8B/"],
             "env": [{"name": "OSS_ENDPOINT", "value": "https://oss-cn-hangzhou-internal.aliyuncs.com"}]}
    assert residency.cn_weights_in_region(DEPLOYMENT, deployment(vllm(), init=(fetch,)), ctx()) == []
    modelscope = vllm(args=("Qwen/Qwen3-8B", "--download-dir=/models/hub"), VLLM_USE_MODELSCOPE="True",
                      OTEL_EXPORTER_OTLP_ENDPOINT="http://otel-collector.monitoring.svc:4317")
    assert residency.cn_weights_in_region(DEPLOYMENT, deployment(modelscope), ctx()) == []


def test_model_server_without_hf_hub_offline_is_caught():
    container = {"name": "vllm", "image": VLLM, "command": ["vllm", "serve"], "args": ["/models/Qwen3-8B"]}
    assert residency.cn_weights_in_region(DEPLOYMENT, deployment(container), ctx()) == [
        "container 'vllm' does not set HF_HUB_OFFLINE=1 (the Hugging Face hub must stay unreachable)"]
    other = deployment(container, labels={"app.kubernetes.io/name": "gateway"})
    assert residency.cn_weights_in_region(DEPLOYMENT, other, ctx()) == []  # only model servers need it


def test_foreign_weight_sources_are_caught():
    fetch = {"name": "fetch-weights", "image": f"{ACR}/aws-cli:2", "command": ["aws", "s3", "sync", "s3://w/m/", "/models/m/"]}
    hf = vllm(HF_ENDPOINT="https://huggingface.co")
    assert residency.cn_weights_in_region(DEPLOYMENT, deployment(hf, init=(fetch,)), ctx()) == [
        "init container 'fetch-weights' reads 's3://w/m/'; cn weights come from oss:// or ModelScope only",
        "container 'vllm' reaches 'https://huggingface.co' (huggingface.co), which is not an in-region source "
        "(Alibaba Cloud in mainland China or ModelScope)"]


def test_serving_a_repository_id_without_modelscope_means_hugging_face():
    container = vllm(args=("Qwen/Qwen3-8B", "--port=8000"))
    assert residency.cn_weights_in_region(DEPLOYMENT, deployment(container), ctx()) == [
        "container 'vllm' serves 'Qwen/Qwen3-8B' by repository id without VLLM_USE_MODELSCOPE=True, so vLLM would "
        "fetch it from Hugging Face"]
    assert residency.cn_weights_in_region(DEPLOYMENT, deployment(container), ctx("global")) == []


HELM = "kubernetes:helm.sh/v3:Release"
PUBLIC_ACR = "gpufleet-prod-cn-hangzhou-acr-registry.cn-hangzhou.cr.aliyuncs.com/gpufleet"


def test_charts_and_custom_resources_pull_from_acr_too():
    release = {"chart": f"oci://{PUBLIC_ACR}/gateway-helm", "values": {"global": {"images": {
        "envoyGateway": {"image": f"{ACR}/gateway:v1.7.0"}, "ratelimit": {"image": f"{ACR}/ratelimit:3fb70258"}}}}}
    assert residency.cn_images_from_acr(HELM, release, ctx()) == []
    upstream = {"chart": "oci://docker.io/envoyproxy/gateway-helm",
                "values": {"global": {"images": {"envoyGateway": {"image": "docker.io/envoyproxy/gateway:v1.7.0"}}}}}
    assert residency.cn_images_from_acr(HELM, upstream, ctx()) == [
        "values.global.images.envoyGateway.image pulls 'docker.io/envoyproxy/gateway:v1.7.0' from docker.io, not from "
        "an ACR Enterprise Edition registry (*.cr.aliyuncs.com)",
        "chart pulls 'docker.io/envoyproxy/gateway-helm' from docker.io, not from an ACR Enterprise Edition registry "
        "(*.cr.aliyuncs.com)"]
    proxy = {"kind": "EnvoyProxy", "spec": {"provider": {"kubernetes": {"envoyDeployment": {
        "container": {"image": "docker.io/envoyproxy/envoy:distroless-v1.37.0"}}}}}}
    assert residency.cn_images_from_acr("kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy", proxy, ctx()) == [
        "spec.provider.kubernetes.envoyDeployment.container.image pulls 'docker.io/envoyproxy/envoy:distroless-v1.37.0' "
        "from docker.io, not from an ACR Enterprise Edition registry (*.cr.aliyuncs.com)"]


def test_a_region_nobody_knows_is_not_shown_to_be_mainland_nor_china():
    assert residency.cn_mainland_locations(SWITCH, {}, ctx(region="xx-nowhere-9")) == [
        "is created in region 'xx-nowhere-9', which is not in mainland China"]
    assert residency.global_no_china_locations("aws:s3/bucket:Bucket", {}, ctx("global", "xx-nowhere-9")) == []
