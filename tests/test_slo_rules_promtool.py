"""The generated rules under the real promtool: `check rules` for every stack, and `test rules`
with series that must fire each alert and series that must stay quiet.

Series are built per minute (promtool's input interval) from phases of traffic: requests
per minute, share of 5xx, and where the TTFT/TPOT observations fall. The alerting rules
are tested without their annotations (promtool compares annotations exactly and they hold
templated values); `check rules` validates those templates.
"""

from __future__ import annotations

import copy

import pytest
import yaml

from gpufleet.core.config import list_stacks, load_stack
from gpufleet.core.slo import SloSpec
from gpufleet.core.slo_metrics import ITL_BUCKETS, TTFT_BUCKETS
from gpufleet.core.slo_rules import ReleaseInfo, alert_names, rule_groups, rules_file_text, stack_rule_groups
from gpufleet.observability.promtool import check_rules, test_rules
from tests.system_tools import require_tool

STACK = "s1"
LABELS = f'stack="{STACK}",release="blue"'
SLO = SloSpec(ttft_p95_ms=800, tpot_p95_ms=60, max_error_rate=0.01, target_rate=6, duration_s=120, min_samples=300)
RELEASES = {"blue": ReleaseInfo("llm-blue", "vllm-blue", 4)}
ALERTS = alert_names(rule_groups(STACK, SLO, RELEASES))


@pytest.fixture(autouse=True)
def _promtool() -> None:
    require_tool("promtool")


@pytest.mark.parametrize("stack", list_stacks())
def test_promtool_check_rules_passes_on_every_stack(stack: str) -> None:
    groups = stack_rule_groups(load_stack(stack))
    result = check_rules(rules_file_text(groups))
    assert result.ok, result.output
    assert result.line.startswith("SUCCESS"), result.line


def test_promtool_check_rules_catches_a_broken_expression() -> None:
    groups = copy.deepcopy(rule_groups(STACK, SLO, RELEASES))
    groups[0]["rules"][0]["expr"] = "sum by (stack (rate(x[5m]))"
    result = check_rules(rules_file_text(groups))
    assert not result.ok and "parse error" in result.output


# ---------------------------------------------------------------- series builders


def _counter(per_minute: list[float]) -> str:
    """promtool values (one per minute) of a counter growing by per_minute[i] during minute i."""
    values, total = [], 0.0
    for inc in per_minute:
        values.append(f"{total:g}")
        total += inc
    return " ".join(values)


def _phases(phases: list[tuple[int, dict]]) -> list[dict]:
    return [spec for minutes, spec in phases for _ in range(minutes)]


def traffic_series(phases: list[tuple[int, dict]]) -> list[dict[str, str]]:
    """Input series for a release: phases of (minutes, {rpm, errors, ttft, tpot}) (shares, seconds)."""
    minutes = _phases(phases)
    rpm = [m.get("rpm", 600) for m in minutes]
    errors = [r * m.get("errors", 0.0) for r, m in zip(rpm, minutes)]
    out = [
        {"series": f'http_requests_total{{{LABELS},handler="/v1/chat/completions",method="POST",status="2xx"}}',
         "values": _counter([r - e for r, e in zip(rpm, errors)])},
        {"series": f'http_requests_total{{{LABELS},handler="/v1/chat/completions",method="POST",status="5xx"}}',
         "values": _counter(errors)},
    ]
    ok = [r - e for r, e in zip(rpm, errors)]
    for metric, key, buckets in (("vllm:time_to_first_token_seconds", "ttft", TTFT_BUCKETS),
                                 ("vllm:request_time_per_output_token_seconds", "tpot", ITL_BUCKETS)):
        values = [m.get(key, 0.2 if key == "ttft" else 0.03) for m in minutes]
        for bound in (*buckets, float("inf")):
            le = "+Inf" if bound == float("inf") else repr(bound)
            per = [n if v <= bound else 0 for n, v in zip(ok, values)]
            out.append({"series": f'{metric}_bucket{{{LABELS},le="{le}"}}', "values": _counter(per)})
        out.append({"series": f"{metric}_count{{{LABELS}}}", "values": _counter(ok)})
    return out


def _write(groups: list[dict], tests: list[dict]) -> dict[str, str]:
    stripped = copy.deepcopy(groups)
    for group in stripped:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    test = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": tests}
    return {"rules.yaml": rules_file_text(stripped), "test.yaml": yaml.safe_dump(test, sort_keys=False)}


def _expect(series: list[dict], checks: dict[str, dict[str, list[dict]]]) -> dict:
    """checks: eval_time -> {alertname: [expected label sets]} (an empty list: must not fire)."""
    return {"interval": "1m", "input_series": series,
            "alert_rule_test": [{"eval_time": t, "alertname": name, "exp_alerts": [{"exp_labels": lab} for lab in exp]}
                                for t, by_name in checks.items() for name, exp in by_name.items()]}


def _alert(name: str, severity: str, **extra: str) -> dict[str, str]:
    return {"stack": STACK, "release": "blue", "severity": severity, **extra}


def _run(tests: list[dict]) -> None:
    files = _write(rule_groups(STACK, SLO, RELEASES), tests)
    result = test_rules(files, "test.yaml")
    assert result.ok, result.output
    assert "SUCCESS" in result.output


def _quiet(*times: str) -> dict[str, dict[str, list]]:
    return {t: {name: [] for name in ALERTS} for t in times}


# ---------------------------------------------------------------- SLO burn alerts


def test_healthy_traffic_fires_nothing() -> None:
    # 0.5% errors (half the budget), TTFT 200 ms, TPOT 30 ms: inside every objective.
    series = traffic_series([(420, {"errors": 0.005})])
    _run([_expect(series, _quiet("30m", "2h", "6h30m"))])


def test_slow_ttft_pages_then_tickets_and_leaves_errors_alone() -> None:
    # One healthy hour, then every request takes 2 s to its first token.
    series = traffic_series([(60, {}), (120, {"ttft": 2.0})])
    page = _alert("VllmTtftBudgetBurnPage", "critical", slo="ttft")
    ticket = _alert("VllmTtftBudgetBurnTicket", "warning", slo="ttft")
    checks = {
        # after 40 min the 1h share is 40/60 = 0.67 < 0.72: no page; the ticket's 6h share
        # (over the 100 min of data) passed 0.3 at 26 min and waits out its 15 min `for`
        "100m": {"VllmTtftBudgetBurnPage": [], "VllmTtftBudgetBurnTicket": [],
                 "VllmErrorBudgetBurnPage": [], "VllmTpotBudgetBurnPage": []},
        # after 50 min: 50/60 = 0.83 > 0.72 over 1h and 1.0 over 5m, for more than 2 min
        "110m": {"VllmTtftBudgetBurnPage": [page], "VllmTtftBudgetBurnTicket": [ticket],
                 "VllmErrorBudgetBurnPage": [], "VllmErrorBudgetBurnTicket": []},
    }
    _run([_expect(series, checks)])


def test_error_burst_pages() -> None:
    # 30% of requests fail after a healthy hour: the 1h share passes 14.4 x 1% once 29 of its
    # 60 minutes failed (0.3 x 29/60 > 0.144), the 5m share at once; then 2 min of `for`.
    # Every alert of the file is exercised: each one fires in some test below and stays quiet in others.
    series = traffic_series([(60, {}), (90, {"errors": 0.3})])
    page = _alert("VllmErrorBudgetBurnPage", "critical", slo="errors")
    checks = {
        "85m": {"VllmErrorBudgetBurnPage": []},
        # the ticket: 6h share 0.3 x t / (60 + t) > 6 x 1% after 15 min, then 15 min of `for`
        "100m": {"VllmErrorBudgetBurnPage": [page], "VllmTtftBudgetBurnPage": [], "VllmTpotBudgetBurnPage": [],
                 "VllmErrorBudgetBurnTicket": [_alert("VllmErrorBudgetBurnTicket", "warning", slo="errors")]},
    }
    _run([_expect(series, checks)])


def test_short_blip_below_the_burn_threshold_stays_quiet() -> None:
    # 5 minutes of 100% errors: 5/60 = 0.083 of the hour, under the 14.4 x 1% = 0.144 page line,
    # even though the 5m window alone is far over it.
    series = traffic_series([(120, {}), (5, {"errors": 1.0}), (120, {})])
    _run([_expect(series, _quiet("124m", "126m", "130m", "180m"))])


def test_slow_tpot_pages() -> None:
    series = traffic_series([(60, {}), (60, {"tpot": 0.2})])
    page = _alert("VllmTpotBudgetBurnPage", "critical", slo="tpot")
    ticket = _alert("VllmTpotBudgetBurnTicket", "warning", slo="tpot")
    _run([_expect(series, {"70m": {"VllmTpotBudgetBurnPage": [], "VllmTpotBudgetBurnTicket": []},
                           "115m": {"VllmTpotBudgetBurnPage": [page], "VllmTpotBudgetBurnTicket": [ticket],
                                    "VllmTtftBudgetBurnPage": []}})])


def test_objective_between_buckets_is_interpolated() -> None:
    # TTFT 0.8 s lies in (0.75, 1.0]; with every request at 0.9 s, linear interpolation counts
    # (0.8 - 0.75) / 0.25 = 20% of that bucket as good: a slow share of 0.8 (not 1.0, not 0.0).
    series = traffic_series([(30, {"ttft": 0.9})])
    test = {"interval": "1m", "input_series": series, "promql_expr_test": [{
        "expr": "gpufleet:vllm_ttft_over_slo:ratio_rate5m", "eval_time": "20m",
        "exp_samples": [{"labels": f'gpufleet:vllm_ttft_over_slo:ratio_rate5m{{{LABELS}}}', "value": 0.8}]}]}
    _run([test])


# ---------------------------------------------------------------- saturation alerts


def _gauge(name: str, labels: str, values: str) -> dict[str, str]:
    return {"series": f"{name}{{{labels}}}", "values": values}


def test_kv_cache_sustained_fires_and_a_short_spike_does_not() -> None:
    pod = f'{LABELS},pod="vllm-blue-0"'
    sustained = _gauge("vllm:kv_cache_usage_perc", pod, "0.95x30")
    spike = _gauge("vllm:kv_cache_usage_perc", f'{LABELS},pod="vllm-blue-1"', "0.95x10 0.5x20")
    fired = _alert("VllmKvCacheSaturated", "warning", kind="saturation", pod="vllm-blue-0")
    _run([_expect([sustained, spike], {"25m": {"VllmKvCacheSaturated": [fired]}})])


def test_gpu_xid_error_fires_and_clears() -> None:
    labels = 'gpu="0",Hostname="node-a",UUID="GPU-1"'
    series = [_gauge("DCGM_FI_DEV_XID_ERRORS", labels, "0x10 79 0x30")]
    fired = {"stack": STACK, "severity": "warning", "kind": "gpu", "gpu": "0", "Hostname": "node-a", "UUID": "GPU-1"}
    _run([_expect(series, {"5m": {"GpuXidErrors": []}, "12m": {"GpuXidErrors": [fired]},
                           "30m": {"GpuXidErrors": []}})])


def test_scrape_target_down_fires_after_five_minutes() -> None:
    series = [_gauge("up", f'{LABELS},job="llm-blue/vllm-blue",instance="10.0.0.1:8000"', "1x10 0x20")]
    fired = {"stack": STACK, "release": "blue", "job": "llm-blue/vllm-blue", "instance": "10.0.0.1:8000",
             "severity": "warning", "kind": "scrape"}
    _run([_expect(series, {"13m": {"GpufleetScrapeTargetDown": []}, "17m": {"GpufleetScrapeTargetDown": [fired]}})])


def test_zero_ready_replicas_and_queue_growing_at_max() -> None:
    ksm = 'namespace="llm-blue",deployment="vllm-blue"'
    available = _gauge("kube_deployment_status_replicas_available", ksm, "4x20 0x20")
    waiting = [_gauge("vllm:num_requests_waiting", f'{LABELS},pod="p{i}"', "0+1x40") for i in range(2)]
    none = _alert("VllmReleaseNoReadyReplicas", "critical", kind="availability")
    queue = _alert("VllmQueueGrowingAtMaxReplicas", "critical", kind="saturation")
    _run([_expect([available, *waiting], {
        "18m": {"VllmQueueGrowingAtMaxReplicas": [queue], "VllmReleaseNoReadyReplicas": []},
        "30m": {"VllmQueueGrowingAtMaxReplicas": [], "VllmReleaseNoReadyReplicas": [none]},
    })])


def test_queue_growing_below_max_replicas_does_not_fire() -> None:
    ksm = 'namespace="llm-blue",deployment="vllm-blue"'
    available = _gauge("kube_deployment_status_replicas_available", ksm, "2x40")
    waiting = _gauge("vllm:num_requests_waiting", f'{LABELS},pod="p0"', "0+1x40")
    _run([_expect([available, waiting], {"30m": {"VllmQueueGrowingAtMaxReplicas": []}})])


SCENARIOS = (test_healthy_traffic_fires_nothing, test_slow_ttft_pages_then_tickets_and_leaves_errors_alone,
             test_error_burst_pages, test_short_blip_below_the_burn_threshold_stays_quiet, test_slow_tpot_pages,
             test_kv_cache_sustained_fires_and_a_short_spike_does_not, test_gpu_xid_error_fires_and_clears,
             test_scrape_target_down_fires_after_five_minutes, test_zero_ready_replicas_and_queue_growing_at_max,
             test_queue_growing_below_max_replicas_does_not_fire)


def test_every_alert_is_shown_to_fire_and_to_stay_quiet(monkeypatch) -> None:
    """The scenarios above, collected instead of run: each alert of the file is expected to fire
    somewhere and expected to stay quiet somewhere."""
    import sys

    collected: list[dict] = []
    monkeypatch.setattr(sys.modules[__name__], "_run", collected.extend)
    for scenario in SCENARIOS:
        scenario()
    checks = [c for test in collected for c in test.get("alert_rule_test", [])]
    assert {c["alertname"] for c in checks if c["exp_alerts"]} == set(ALERTS)
    assert {c["alertname"] for c in checks if not c["exp_alerts"]} == set(ALERTS)
