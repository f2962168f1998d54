"""GPU-stockout alerts under the real promtool: they fire on a shortfall with unschedulable pods and
on the node autoscaler's failure signal, and stay quiet while pods only wait for a node to boot."""

from __future__ import annotations

import pytest
import yaml

from gpufleet.core.capacity_rules import capacity_rule_group
from gpufleet.observability.promtool import check_rules, test_rules
from system_tools import require_tool

NS = 'namespace="llm-blue"'


@pytest.fixture(autouse=True)
def _promtool() -> None:
    require_tool("promtool")


def rules_text(cloud: str) -> str:
    return yaml.safe_dump({"groups": [capacity_rule_group("s1", cloud, for_s=300)]}, sort_keys=False)


def case(series: list[tuple[str, str]], at: str, alert: str, firing: bool) -> dict:
    exp = [{"exp_labels": {"namespace": "llm-blue", "stack": "s1", "kind": "capacity", "severity": "critical"}}] \
        if firing and alert == "GpuCapacityShortfall" else \
        [{"exp_labels": {"stack": "s1", "kind": "capacity", "severity": "warning"}}] if firing else []
    for e in exp:  # promtool compares annotations after expanding their templates
        rule = next(r for r in capacity_rule_group("s1", "aws" if "Karpenter" in alert else "alicloud", for_s=300)["rules"]
                    if r["alert"] == alert)
        e["exp_annotations"] = {k: v.replace("{{ $labels.namespace }}", "llm-blue") for k, v in rule["annotations"].items()}
    return {"interval": "1m", "input_series": [{"series": s, "values": v} for s, v in series],
            "alert_rule_test": [{"eval_time": at, "alertname": alert, "exp_alerts": exp}]}


SHORTFALL = [(f"kube_pod_status_unschedulable{{{NS},pod=\"vllm-blue-1\"}}", "1x20"),
             (f"kube_deployment_spec_replicas{{{NS},deployment=\"vllm-blue\"}}", "6x20"),
             (f"kube_deployment_status_replicas_ready{{{NS},deployment=\"vllm-blue\"}}", "4x20")]
BOOTING = [(f"kube_pod_status_unschedulable{{{NS},pod=\"vllm-blue-1\"}}", "1 1 1 0x17"),
           (f"kube_deployment_spec_replicas{{{NS},deployment=\"vllm-blue\"}}", "6x20"),
           (f"kube_deployment_status_replicas_ready{{{NS},deployment=\"vllm-blue\"}}", "4 4 4 4 4 4 5 6x13")]


@pytest.mark.parametrize("cloud", ["aws", "alicloud"])
def test_capacity_rules_pass_promtool_check(cloud: str) -> None:
    result = check_rules(rules_text(cloud))
    assert result.ok, result.output


def test_stockout_alerts_fire_and_a_booting_node_stays_quiet() -> None:
    tests = [
        case(SHORTFALL, "10m", "GpuCapacityShortfall", True),
        case(BOOTING, "10m", "GpuCapacityShortfall", False),
        case([('karpenter_cloudprovider_errors_total{error="InsufficientCapacityError",method="Create"}', "0 1 2 3x10")],
             "5m", "KarpenterInsufficientCapacity", True),
        case([('karpenter_cloudprovider_errors_total{error="InsufficientCapacityError",method="Create"}', "0x40")],
             "30m", "KarpenterInsufficientCapacity", False),
    ]
    text = yaml.safe_dump({"rule_files": ["aws.yaml"], "evaluation_interval": "1m", "tests": tests}, sort_keys=False)
    result = test_rules({"aws.yaml": rules_text("aws"), "t.yaml": text}, "t.yaml")
    assert result.ok, result.output
    ack = yaml.safe_dump({"rule_files": ["ack.yaml"], "evaluation_interval": "1m", "tests": [
        case([("cluster_autoscaler_failed_scale_ups_total{reason=\"cloudProviderError\"}", "0 0 1x10")], "5m",
             "ClusterAutoscalerScaleUpFailing", True)]}, sort_keys=False)
    result = test_rules({"ack.yaml": rules_text("alicloud"), "t.yaml": ack}, "t.yaml")
    assert result.ok, result.output
