"""The moderation stage is watched: its proxies are scraped, and failing or fail-open moderation alerts
(promtool test rules: fires on an error burst, quiet on a healthy stage)."""

from __future__ import annotations

import pytest
import yaml

from gpufleet.core.config import load_stack
from gpufleet.core.crds import crd_errors
from gpufleet.core.moderation_monitoring import moderation_pod_monitors, moderation_rule_group
from gpufleet.core.observability_manifests import observability_objects
from gpufleet.observability.promtool import check_rules, test_rules
from system_tools import require_tool


def test_every_release_behind_the_stage_is_scraped_and_global_stacks_have_none():
    cn = load_stack("prod-cn-hangzhou")
    monitors = moderation_pod_monitors(cn)
    assert [m["metadata"]["name"] for m in monitors] == [f"moderation-{r}" for r in sorted(cn.releases)]
    for monitor in monitors:
        assert crd_errors(monitor) == []
        assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    rule = next(o for o in observability_objects(cn) if o["kind"] == "PrometheusRule")
    assert f"gpufleet-{cn.stack}-moderation" in [g["name"] for g in rule["spec"]["groups"]]
    assert moderation_pod_monitors(load_stack("prod-us-east-1")) == []


def _case(errors: str, checks: str, at: str, firing: bool) -> dict:
    exp = [{"exp_labels": {"release": "blue", "stack": "s1", "kind": "moderation", "severity": "critical"},
            "exp_annotations": {k: v.replace("{{ $labels.release }}", "blue")
                                for k, v in moderation_rule_group("s1")["rules"][0]["annotations"].items()}}]
    return {"interval": "1m", "input_series": [
        {"series": 'gpufleet_moderation_errors_total{release="blue",kind="timeout"}', "values": errors},
        {"series": 'gpufleet_moderation_checks_total{release="blue",direction="output"}', "values": checks}],
        "alert_rule_test": [{"eval_time": at, "alertname": "ModerationFailing", "exp_alerts": exp if firing else []}]}


def test_failing_moderation_pages_and_a_healthy_stage_stays_quiet():
    require_tool("promtool")
    rules = yaml.safe_dump({"groups": [moderation_rule_group("s1")]}, sort_keys=False)
    assert check_rules(rules).ok
    tests = [_case("0+30x20", "0+100x20", "15m", True),    # 30% of checks fail for 15 minutes
             _case("0+1x20", "0+100x20", "15m", False),    # 1%: below the 5% line
             _case("0x5 0+60x3 180x12", "0+100x20", "15m", False)]  # a 3-minute burst, shorter than 'for'
    text = yaml.safe_dump({"rule_files": ["m.yaml"], "evaluation_interval": "1m", "tests": tests}, sort_keys=False)
    result = test_rules({"m.yaml": rules, "t.yaml": text}, "t.yaml")
    assert result.ok, result.output
