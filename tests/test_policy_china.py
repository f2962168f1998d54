"""China service rules: log retention, filings for public endpoints, moderation, undeclared exposure."""

from __future__ import annotations

from typing import Any

import pytest

from gpufleet.core.compliance_config import ComplianceConfig, Moderation
from gpufleet.policies import china_rules as cn
from gpufleet.policies.model import PolicyContext, StackContext, Violation

STORE = "alicloud:log/store:Store"
ACK = "alicloud:cs/managedKubernetes:ManagedKubernetes"
ICP = "浙ICP备12345678号"
GENAI = "Zhejiang-Gpufleet-202401010001"
GREEN = Moderation(provider="aliyun-green", endpoint="https://green-cip.cn-shanghai.aliyuncs.com")


def ctx(jurisdiction: str = "cn", compliance: ComplianceConfig | None = None, error: str | None = None,
        **settings: Any) -> PolicyContext:
    stack = StackContext("prod-cn-hangzhou", "alicloud", "cn-hangzhou", jurisdiction,
                         compliance=compliance or ComplianceConfig(), compliance_error=error)
    return PolicyContext(stack, settings)


def public(**fields: Any) -> ComplianceConfig:
    return ComplianceConfig(public_endpoint=True, **fields)


# --------------------------------------------------------------------------- cn-log-retention


def test_log_store_kept_a_year_passes():
    assert cn.cn_log_retention(STORE, {"logstoreName": "audit", "retentionPeriod": 365}, ctx()) == []


def test_log_store_kept_three_months_fails():
    assert cn.cn_log_retention(STORE, {"logstoreName": "audit", "retentionPeriod": 90}, ctx()) == [
        "log store 'audit' keeps logs 90 days; cn stacks keep them at least 184 days"]


def test_log_store_without_retention_gets_the_30_day_default():
    assert cn.cn_log_retention(STORE, {"logstoreName": "access"}, ctx()) == [
        "log store 'access' keeps logs 30 days; cn stacks keep them at least 184 days"]


def test_metric_stores_and_global_stacks_are_out_of_scope():
    assert cn.cn_log_retention(STORE, {"logstoreName": "m", "telemetryType": "Metrics", "retentionPeriod": 7}, ctx()) == []
    assert cn.cn_log_retention(STORE, {"logstoreName": "audit", "retentionPeriod": 7}, ctx("global")) == []


def test_ack_control_plane_log_ttl():
    logged = {"controlPlaneLogComponents": ["apiserver", "kcm", "scheduler"]}
    assert cn.cn_log_retention(ACK, {**logged, "controlPlaneLogTtl": "365"}, ctx()) == []
    assert cn.cn_log_retention(ACK, {**logged, "controlPlaneLogTtl": "90"}, ctx()) == [
        "controlPlaneLogTtl is 90 days; cn stacks keep control-plane and audit logs at least 184 days"]
    assert cn.cn_log_retention(ACK, logged, ctx()) == [
        "controlPlaneLogTtl is 30 days; cn stacks keep control-plane and audit logs at least 184 days"]


def test_minimum_is_configurable_upwards():
    assert cn.cn_log_retention(STORE, {"logstoreName": "audit", "retentionPeriod": 365}, ctx(minDays=400)) == [
        "log store 'audit' keeps logs 365 days; cn stacks keep them at least 400 days"]


# --------------------------------------------------------------------------- cn-public-endpoint-filings


def test_private_cn_stack_needs_no_filings():
    assert cn.cn_public_endpoint_filings([], ctx()) == []


def test_public_cn_stack_with_both_filings_passes():
    assert cn.cn_public_endpoint_filings([], ctx(compliance=public(icp_filing=ICP, genai_filing_id=GENAI))) == []


def test_public_cn_stack_without_filings_fails():
    assert cn.cn_public_endpoint_filings([], ctx(compliance=public())) == [Violation(
        "gpufleet:compliance.publicEndpoint is true but icpFiling and genaiFilingId are not set; a public "
        "generative-AI service in mainland China needs an ICP filing (e.g. 浙ICP备12345678号) and a CAC "
        "generative-AI filing")]
    assert cn.cn_public_endpoint_filings([], ctx(compliance=public(icp_filing=ICP))) == [Violation(
        "gpufleet:compliance.publicEndpoint is true but genaiFilingId is not set; a public generative-AI service in "
        "mainland China needs an ICP filing (e.g. 浙ICP备12345678号) and a CAC generative-AI filing")]


def test_unreadable_compliance_config_is_reported_and_global_stacks_are_exempt():
    assert cn.cn_public_endpoint_filings([], ctx(error="icpFiling: bad")) == [
        Violation("gpufleet:compliance is invalid: icpFiling: bad")]
    assert cn.cn_public_endpoint_filings([], ctx("global", compliance=public())) == []


# --------------------------------------------------------------------------- cn-content-moderation


def test_public_cn_stack_with_mainland_moderation_of_prompts_and_outputs_passes():
    assert cn.cn_content_moderation([], ctx(compliance=public(moderation=GREEN))) == []
    custom = Moderation(provider="custom", endpoint="https://moderation.gateway.svc.cluster.local/v1")
    assert cn.cn_content_moderation([], ctx(compliance=public(moderation=custom))) == []


def test_public_cn_stack_without_moderation_fails():
    assert cn.cn_content_moderation([], ctx(compliance=public())) == [Violation(
        "gpufleet:compliance.publicEndpoint is true but no moderation hook is configured (gpufleet:compliance.moderation "
        "with provider, endpoint, checkPrompts, checkOutputs)")]


def test_moderation_must_check_both_directions():
    half = GREEN.model_copy(update={"check_outputs": False})
    assert cn.cn_content_moderation([], ctx(compliance=public(moderation=half))) == [Violation(
        "gpufleet:compliance.moderation has checkOutputs off; both prompts and outputs must be screened")]


def test_moderation_endpoint_must_be_in_mainland():
    abroad = Moderation(provider="aliyun-green", endpoint="https://green-cip.ap-southeast-1.aliyuncs.com")
    assert cn.cn_content_moderation([], ctx(compliance=public(moderation=abroad))) == [Violation(
        "gpufleet:compliance.moderation.endpoint 'https://green-cip.ap-southeast-1.aliyuncs.com' is in "
        "ap-southeast-1, outside mainland China (prompts would leave the country)")]
    global_host = Moderation(provider="aliyun-green", endpoint="https://green.aliyuncs.com")
    assert cn.cn_content_moderation([], ctx(compliance=public(moderation=global_host))) == [Violation(
        "gpufleet:compliance.moderation.endpoint 'https://green.aliyuncs.com' is not a regional Alibaba Cloud Content "
        "Moderation endpoint (e.g. https://green-cip.cn-shanghai.aliyuncs.com)")]


def test_private_stacks_need_no_moderation():
    assert cn.cn_content_moderation([], ctx()) == []


# --------------------------------------------------------------------------- cn-undeclared-public-endpoint

UNDECLARED = ("is reachable from the internet but gpufleet:compliance.publicEndpoint is false; declare the public "
              "endpoint with its ICP filing, generative-AI filing and moderation hook, or make it intranet-only")
ENVOY_PROXY = "kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy"


@pytest.mark.parametrize("typ", ["alicloud:slb/loadBalancer:LoadBalancer", "alicloud:alb/loadBalancer:LoadBalancer",
                                 "alicloud:nlb/loadBalancer:LoadBalancer"])
def test_internet_load_balancers_must_be_declared(typ):
    assert cn.cn_undeclared_public_endpoint(typ, {"addressType": "Internet"}, ctx()) == [f"addressType: {UNDECLARED}"]
    assert cn.cn_undeclared_public_endpoint(typ, {"addressType": "Intranet"}, ctx()) == []
    assert cn.cn_undeclared_public_endpoint(typ, {"addressType": "Internet"}, ctx(compliance=public())) == []


def test_kubernetes_load_balancer_services_are_internet_facing_unless_marked_intranet():
    svc = "kubernetes:core/v1:Service"
    lb = {"kind": "Service", "metadata": {"name": "gateway"}, "spec": {"type": "LoadBalancer"}}
    assert cn.cn_undeclared_public_endpoint(svc, lb, ctx()) == [f"spec.type: {UNDECLARED}"]
    internal = {**lb, "metadata": {"name": "gateway", "annotations": {cn.ACK_LB_ADDRESS_TYPE: "intranet"}}}
    assert cn.cn_undeclared_public_endpoint(svc, internal, ctx()) == []
    cluster_ip = {"kind": "Service", "metadata": {"name": "vllm"}, "spec": {"type": "ClusterIP"}}
    assert cn.cn_undeclared_public_endpoint(svc, cluster_ip, ctx()) == []


def envoy_proxy(address_type: str) -> dict:
    service = {"name": "gpufleet-gateway", "type": "LoadBalancer", "annotations": {cn.ACK_LB_ADDRESS_TYPE: address_type}}
    return {"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "EnvoyProxy", "metadata": {"name": "gpufleet"},
            "spec": {"provider": {"type": "Kubernetes", "kubernetes": {"envoyService": service}}}}


def test_load_balancer_services_templated_by_custom_resources_count_too():
    assert cn.cn_undeclared_public_endpoint(ENVOY_PROXY, envoy_proxy("internet"), ctx()) == [
        f"spec.provider.kubernetes.envoyService: {UNDECLARED}"]
    assert cn.cn_undeclared_public_endpoint(ENVOY_PROXY, envoy_proxy("intranet"), ctx()) == []
    assert cn.cn_undeclared_public_endpoint(ENVOY_PROXY, envoy_proxy("internet"), ctx(compliance=public())) == []
