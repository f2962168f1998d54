"""End to end: the pack's policies over the offline previews of the shipped stacks, and of broken ones."""

from __future__ import annotations

import copy
from datetime import date

import pytest
from rich.console import Console

from conftest import ROOT, cached_preview, edited_stack, shipped_stacks
from gpufleet.policy_runner import (
    PolicyResult,
    has_mandatory_violation,
    load_pack_config,
    preview_section,
    render_policy_results,
    run_policies,
    run_policies_for_previews,
    stack_context,
)
from gpufleet.preview.engine import ResourceView, StackPreview, preview_stack
from gpufleet.core.compliance_config import ComplianceConfig, Moderation
from gpufleet.core.config import StackConfig, load_stack
from gpufleet.policies.context import context_from_config
from gpufleet.policies.settings import PackConfigError

STACKS = shipped_stacks()
CN = "prod-cn-hangzhou"
DOCKER_HUB_VLLM = "vllm/vllm-openai:v0.27.1@sha256:" + "0" * 64


def mandatory(results: list[PolicyResult]) -> list[tuple[str, str | None]]:
    return [(r.policy, r.resource) for r in results if r.level == "mandatory"]


def find(preview: StackPreview, typ: str, name_suffix: str = "") -> ResourceView:
    (found,) = [r for r in preview.resources if r.type == typ and r.name.endswith(name_suffix)]
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_every_shipped_stack_has_no_mandatory_violation(stack):
    preview = cached_preview(stack)
    assert preview.ok, preview.error
    kinds = {r.type for r in preview.resources}
    assert "kubernetes:apps/v1:Deployment" in kinds and "kubernetes:core/v1:Namespace" in kinds  # workloads are checked too
    results = run_policies(preview, load_stack(stack))
    assert mandatory(results) == [], [r.message for r in results]
    assert not has_mandatory_violation(results)


@pytest.mark.parametrize("stack", STACKS)
def test_context_inferred_from_resources_matches_the_stack_config(stack):
    preview, cfg = cached_preview(stack), load_stack(stack)
    inferred = stack_context(preview, None, today=date(2026, 11, 22))
    assert inferred == context_from_config(cfg, today=date(2026, 11, 22), compliance=ComplianceConfig())


@pytest.mark.parametrize("change,refusal", [
    ({"alicloud:region": "cn-hongkong"}, "jurisdiction 'cn' needs a mainland China region"),
    ({"gpufleet:releases.blue.image": "docker.io/" + DOCKER_HUB_VLLM}, "China stacks pull images only from their own registry"),
    ({"gpufleet:releases.blue.weightsSource": "huggingface"}, "'huggingface' is not reachable from mainland China stacks"),
])
def test_china_stack_edited_to_break_residency_is_refused_before_anything_is_registered(change, refusal):
    preview = preview_stack(CN, text=edited_stack(CN, change))
    assert not preview.ok and refusal in preview.error
    assert preview.resources == [] and run_policies(preview) == []


def broken_china_preview() -> StackPreview:
    """The real hangzhou preview with residency broken the ways config validation cannot see."""
    preview = copy.deepcopy(cached_preview(CN))
    find(preview, "alicloud:vpc/switch:Switch", "nodes-cn-hangzhou-h").inputs["zoneId"] = "cn-hongkong-b"  # region
    vllm = find(preview, "kubernetes:apps/v1:Deployment", "vllm-blue").inputs["spec"]["template"]["spec"]["containers"][0]
    vllm["image"] = DOCKER_HUB_VLLM  # image source
    preview.resources.append(ResourceView("alicloud:log/etl:Etl", "audit-to-singapore", {  # log target
        "etlName": "audit-copy", "project": "gpufleet-prod-cn-hangzhou-logs", "logstore": "audit",
        "etlSinks": [{"name": "sg", "endpoint": "ap-southeast-1.log.aliyuncs.com", "project": "ops-sg", "logstore": "audit"}]}))
    preview.resources.append(ResourceView("alicloud:oss/bucketReplication:BucketReplication", "weights-dr", {
        "bucket": "gpufleet-prod-cn-hangzhou-weights-1234567890123456",
        "destination": {"bucket": "gpufleet-dr", "location": "oss-ap-southeast-1"}}))
    find(preview, "alicloud:log/store:Store", "audit").inputs["retentionPeriod"] = 90
    return preview


def test_china_stack_with_broken_residency_is_caught_by_the_policies():
    results = run_policies(broken_china_preview(), load_stack(CN))
    assert mandatory(results) == [
        ("cn-images-from-acr", "prod-cn-hangzhou-blue-deployment-vllm-blue"),
        ("cn-log-retention", "prod-cn-hangzhou-artifacts-audit"),
        ("cn-mainland-locations", "prod-cn-hangzhou-net-nodes-cn-hangzhou-h"),
        ("cn-no-cross-border-transfer", "audit-to-singapore"),
        ("cn-no-cross-border-transfer", "weights-dr"),
    ]
    by_policy = {r.policy: r for r in results}
    assert by_policy["cn-images-from-acr"].message == (
        f"container 'vllm' pulls '{DOCKER_HUB_VLLM}' from docker.io, not from an ACR Enterprise Edition registry "
        "(*.cr.aliyuncs.com)")
    assert by_policy["cn-mainland-locations"].resource_type == "alicloud:vpc/switch:Switch"
    assert has_mandatory_violation(results)


def test_global_stack_reaching_into_china_is_caught():
    preview = copy.deepcopy(cached_preview("prod-us-east-1"))
    find(preview, "aws:ec2/subnet:Subnet", "private-us-east-1a").inputs["availabilityZone"] = "cn-north-1a"
    results = run_policies(preview, load_stack("prod-us-east-1"))
    assert mandatory(results) == [("global-no-china-locations", "prod-us-east-1-net-private-us-east-1a")]
    assert results[0].message == "availabilityZone = 'cn-north-1a' is in cn-north-1, a mainland China region"


def test_public_china_endpoint_needs_filings_and_moderation():
    preview, cfg = cached_preview(CN), load_stack(CN)
    bare = run_policies(preview, cfg, compliance=ComplianceConfig(public_endpoint=True))
    assert mandatory(bare) == [("cn-content-moderation", None), ("cn-public-endpoint-filings", None)]
    declared = ComplianceConfig(public_endpoint=True, icp_filing="浙ICP备12345678号", genai_filing_id="Zhejiang-Gpufleet-202401010001",
                                moderation=Moderation(provider="aliyun-green", endpoint="https://green-cip.cn-shanghai.aliyuncs.com"))
    assert mandatory(run_policies(preview, cfg, compliance=declared)) == []


def test_undeclared_internet_load_balancer_in_china_is_caught():
    from conftest import DELETE
    undeclared = edited_stack(CN, {"gpufleet:compliance": DELETE})
    preview = copy.deepcopy(preview_stack(CN, text=undeclared))
    preview.resources.append(ResourceView("kubernetes:core/v1:Service", "gateway", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "gateway", "namespace": "gateway"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 443}]}}))
    assert mandatory(run_policies(preview, load_stack(CN, text=undeclared))) == [
        ("cn-undeclared-public-endpoint", "gateway")]


def test_compliance_declared_in_the_stack_file_is_used():
    text = edited_stack(CN, {"gpufleet:compliance": {"publicEndpoint": True, "icpFiling": "浙ICP备12345678号"}})
    preview = preview_stack(CN, text=text)
    assert preview.ok, preview.error
    assert mandatory(run_policies(preview, load_stack(CN, text=text))) == [
        ("cn-content-moderation", None), ("cn-public-endpoint-filings", None)]


def test_support_dates_come_from_the_catalog_and_today_is_injectable():
    cn = run_policies(cached_preview(CN), load_stack(CN), today=date(2027, 4, 1))
    assert mandatory(cn) == [("k8s-version-in-standard-support", "prod-cn-hangzhou-ack")]
    us = run_policies(cached_preview("prod-us-east-1"), load_stack("prod-us-east-1"), today=date(2027, 1, 1))
    assert [(r.policy, r.level) for r in us] == [("k8s-version-support-ending", "advisory")]
    assert us[0].message == ("Kubernetes 1.35 leaves aws standard support on 2027-03-27 (85 days from 2027-01-01); "
                             "plan the upgrade")
    assert not has_mandatory_violation(us)


def test_pack_config_changes_levels_and_settings_like_pulumi_does():
    broken, cfg = broken_china_preview(), load_stack(CN)
    relaxed = run_policies(broken, cfg, policy_config={"all": "advisory"})
    assert relaxed and not has_mandatory_violation(relaxed)
    without = run_policies(broken, cfg, policy_config={"cn-mainland-locations": "disabled"})
    assert "cn-mainland-locations" not in {r.policy for r in without}
    stricter = run_policies(cached_preview(CN), cfg, policy_config={"cn-log-retention": {"minDays": 400}})
    assert mandatory(stricter) == [("cn-log-retention", "prod-cn-hangzhou-ack"), ("cn-log-retention", "prod-cn-hangzhou-artifacts-audit"),
                                   ("cn-log-retention", "prod-cn-hangzhou-moderation-logstore")]
    with pytest.raises(PackConfigError):
        run_policies(broken, cfg, policy_config={"cn-log-retention": {"minDayz": 1}})
    assert load_pack_config(ROOT / "policy" / "pack-config.example.json")["cn-log-retention"] == {"minDays": 365}


def test_results_as_json_and_rich_summary():
    results = run_policies(broken_china_preview(), load_stack(CN))
    first = results[0].as_json()
    assert first == {"policy": "cn-images-from-acr", "resource": "prod-cn-hangzhou-blue-deployment-vllm-blue",
                     "resourceType": "kubernetes:apps/v1:Deployment", "level": "mandatory", "message": results[0].message}
    console = Console(record=True, width=240)
    render_policy_results({CN: results, "prod-us-east-1": []}, console)
    text = console.export_text()
    assert "prod-cn-hangzhou: policies: 5 mandatory, 0 advisory violation(s)" in text
    assert "cn-no-cross-border-transfer" in text and "audit-to-singapore" in text
    assert "prod-us-east-1: no policy violations" in text
    section = preview_section({CN: results})
    assert section(cached_preview(CN)) is not None and section(cached_preview("prod-us-east-1")) is None


def test_all_previews_at_once_as_the_preview_command_needs_them():
    broken = preview_stack(CN, text=edited_stack(CN, {"alicloud:region": "cn-hongkong"}))
    by_stack = run_policies_for_previews([cached_preview("prod-us-east-1"), broken], today=date(2027, 1, 1))
    assert list(by_stack) == ["prod-us-east-1", CN]
    assert [r.policy for r in by_stack["prod-us-east-1"]] == ["k8s-version-support-ending"]
    assert by_stack[CN] == []
