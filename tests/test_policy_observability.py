"""Observability policies: every release scraped, prod pages on its SLOs, metrics stay in region."""

from __future__ import annotations

import copy

from conftest import cached_preview
from gpufleet.policies.model import PolicyContext, Resource, StackContext
from gpufleet.policies.observability import every_release_scraped, metrics_stay_in_region, prod_slo_alerts
from gpufleet.policy_runner import resources_of

HELM = "kubernetes:helm.sh/v3:Release"


def ctx(jurisdiction: str = "global", region: str = "us-east-1") -> PolicyContext:
    return PolicyContext(StackContext("s", "aws" if jurisdiction == "global" else "alicloud", region, jurisdiction))


def resources(stack: str = "prod-us-east-1") -> list[Resource]:
    return resources_of(cached_preview(stack))


def test_shipped_stack_passes_all_three():
    res = resources()
    assert every_release_scraped(res, ctx()) == []
    assert prod_slo_alerts(res, ctx()) == []
    assert all(metrics_stay_in_region(r.type, r.props, ctx()) == [] for r in res)


def test_a_release_without_pod_monitor_is_reported():
    res = [r for r in resources() if not (r.props.get("kind") == "PodMonitor" and r.props["metadata"]["name"] == "vllm-green")]
    found = every_release_scraped(res, ctx())
    assert [v.message for v in found] == ["model server llm-green/vllm-green is not scraped by any PodMonitor "
                                          "(its SLO alerts and dashboards would be blind)"]


def test_a_pod_monitor_selecting_other_labels_does_not_count():
    res = copy.deepcopy(resources())
    for r in res:
        if r.props.get("kind") == "PodMonitor" and r.props["metadata"]["name"] == "vllm-blue":
            r.props["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] = "green"
    assert len(every_release_scraped(res, ctx())) == 1


def test_prod_without_slo_pages_is_reported_and_non_prod_is_not():
    res = [r for r in resources() if r.props.get("kind") != "PrometheusRule"]
    (violation,) = prod_slo_alerts(res, ctx())
    assert violation.message == ("prod stack has no paging SLO burn-rate alert for errors, ttft "
                                 "(a PrometheusRule generated from gpufleet:slo)")
    dev = [Resource(r.type, r.name, {**r.props, "tags": {**(r.props.get("tags") or {}), "environment": "dev"}})
           if isinstance(r.props.get("tags"), dict) else r for r in res]
    assert prod_slo_alerts(dev, ctx()) == []


def _kps(url: str) -> dict:
    return {"chart": "kube-prometheus-stack", "values": {"prometheus": {"prometheusSpec": {"remoteWrite": [{"url": url}]}}}}


def test_remote_write_residency():
    arms = "https://{r}.arms.aliyuncs.com/prometheus/1/2/{r}/api/v3/write"
    amp = "https://aps-workspaces.{r}.amazonaws.com/workspaces/ws-1/api/v1/remote_write"
    cn = ctx("cn", "cn-beijing")
    assert metrics_stay_in_region(HELM, _kps(arms.format(r="cn-beijing")), cn) == []
    assert metrics_stay_in_region(HELM, _kps(arms.format(r="ap-southeast-1")), cn) == [
        "remote write to ap-southeast-1.arms.aliyuncs.com sends a cn stack's metrics out of mainland China "
        "(allowed: ARMS Prometheus in the stack's region)"]
    assert metrics_stay_in_region(HELM, _kps(amp.format(r="us-east-1")), cn)[0].startswith("remote write to aps-")
    assert metrics_stay_in_region(HELM, _kps(arms.format(r="cn-hangzhou")), cn) == [
        "remote write to cn-hangzhou.arms.aliyuncs.com leaves the stack's region cn-beijing"]
    glob = ctx("global", "us-east-1")
    assert metrics_stay_in_region(HELM, _kps(amp.format(r="us-east-1")), glob) == []
    assert metrics_stay_in_region(HELM, _kps(arms.format(r="cn-hangzhou")), glob) == [
        "remote write to cn-hangzhou.arms.aliyuncs.com sends a global stack's metrics into mainland China"]
    assert metrics_stay_in_region(HELM, _kps(amp.format(r="eu-west-1")), glob) == [
        "remote write to aps-workspaces.eu-west-1.amazonaws.com leaves the stack's region us-east-1"]
