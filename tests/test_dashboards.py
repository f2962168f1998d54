"""Dashboards as code: every PromQL expression parses (promtool) and reads only series that the
simulator, a documented exporter or our own recording rules serve; SLO lines come from gpufleet:slo."""

from __future__ import annotations

import pytest

from conftest import shipped_stacks
from gpufleet.core.config import load_stack
from gpufleet.core.dashboards import dashboard_expressions, stack_dashboards
from gpufleet.core.promql_names import metric_names
from gpufleet.core.slo_metrics import DOCUMENTED_SERIES, VLLM_SERIES
from gpufleet.core.slo_rules import record_names, rules_file_text, stack_rule_groups
from gpufleet.observability.promtool import check_rules
from gpufleet.simserver.metrics import VllmMetrics
from tests.system_tools import require_tool

STACKS = shipped_stacks()


def simulator_series() -> set[str]:
    m = VllmMetrics("m", max_model_len=100, running=lambda: 0, waiting=lambda: 0, kv_cache_usage=lambda: 0)
    m.http.observe("/v1/chat/completions", "POST", 200)
    names = set()
    for line in m.render().splitlines():
        if line and not line.startswith("#"):
            names.add(line.split("{", 1)[0].split(" ", 1)[0])
    return names


def test_promql_names_ignores_labels_functions_and_keywords():
    expr = ('histogram_quantile(0.95, sum by (release, le) (rate(vllm:time_to_first_token_seconds_bucket'
            '{stack="s",le=~"1|1\\\\.0"}[$__rate_interval]))) / on (release) group_left () up or vector(1)')
    assert metric_names(expr) == {"vllm:time_to_first_token_seconds_bucket", "up"}


def test_the_simulator_serves_every_vllm_series_the_rules_and_dashboards_use():
    assert VLLM_SERIES <= simulator_series()


@pytest.mark.parametrize("stack", STACKS)
def test_every_dashboard_expression_parses_and_names_served_metrics(stack):
    require_tool("promtool")
    cfg = load_stack(stack)
    allowed = DOCUMENTED_SERIES | set(record_names(stack_rule_groups(cfg)))
    exprs = [e for d in stack_dashboards(cfg).values() for e in dashboard_expressions(d)]
    assert len(exprs) > 30
    for expr in exprs:
        unknown = metric_names(expr) - allowed
        assert not unknown, (expr, unknown)
    rules = [{"record": f"dashboard_check:expr{i}", "expr": e.replace("$__rate_interval", "5m")}
             for i, e in enumerate(exprs)]
    result = check_rules(rules_file_text([{"name": "dashboards", "rules": rules}]))
    assert result.ok, result.output


def test_a_typo_in_a_metric_name_is_caught():
    assert metric_names("sum(rate(vllm:time_to_first_token_second_bucket[5m]))") - DOCUMENTED_SERIES


def test_slo_lines_come_from_the_stack_slo():
    cfg = load_stack("prod-us-east-1")  # ttftP95Ms 800, tpotP95Ms 60, maxErrorRate 0.01
    overview = stack_dashboards(cfg)["fleet-overview.json"]
    lines = {p["title"]: p["fieldConfig"]["defaults"]["thresholds"]["steps"][-1].get("value")
             for p in overview["panels"]}
    assert lines["TTFT (SLO line: ttftP95Ms)"] == 0.8
    assert lines["TPOT per request (SLO line: tpotP95Ms)"] == 0.06
    assert lines["Error ratio (5xx)"] == 0.01
    ttft = next(p for p in overview["panels"] if p["title"].startswith("TTFT"))
    assert ttft["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "line"


@pytest.mark.parametrize("stack", STACKS)
def test_one_overview_and_one_dashboard_per_release(stack):
    cfg = load_stack(stack)
    boards = stack_dashboards(cfg)
    assert sorted(boards) == ["fleet-overview.json", *sorted(f"release-{r}.json" for r in cfg.releases)]
    titles = {p["title"] for p in boards["fleet-overview.json"]["panels"]}
    for wanted in ("Requests/s", "Queue: running and waiting", "KV-cache usage (max over replicas)",
                   "Prefix-cache hit rate", "Preemptions/s", "Generated tokens/s", "GPU utilisation",
                   "GPU memory used", "GPU power", "Replicas: available and max", "Nodes (GPU pool / all)",
                   "Gateway requests/s per route and status"):
        assert wanted in titles
    assert len({b["uid"] for b in boards.values()}) == len(boards)


@pytest.mark.parametrize("stack", STACKS)
def test_rules_read_only_served_series(stack):
    groups = stack_rule_groups(load_stack(stack))
    allowed = DOCUMENTED_SERIES | set(record_names(groups))
    for group in groups:
        for rule in group["rules"]:
            assert not metric_names(rule["expr"]) - allowed, rule
