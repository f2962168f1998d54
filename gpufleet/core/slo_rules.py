"""Prometheus rules generated from a stack's `gpufleet:slo`: recording rules, SLO burn-rate
alerts (Google SRE workbook, multi-window multi-burn-rate) and saturation alerts.

Pure: plain dicts out, the `groups:` of a Prometheus rule file (and of a
PrometheusRule's spec). The gate (`gpufleet loadtest`) and these alerts judge a
release by the same numbers: TTFT and TPOT at p95, and the error rate.

SLIs, per (stack, release), from what vLLM serves (names in `slo_metrics.py`):
  * errors: share of completion requests answered 5xx (`http_requests_total`);
  * slow TTFT / slow TPOT: share of requests whose TTFT (per-request TPOT) is over
    the objective, from the histogram buckets. The objective is a p95, so the
    error budget is 5% of requests; for errors it is `maxErrorRate`.

Alerts (budget burn = bad share / budget):
  * page   (severity=critical): burn > 14.4 over 1h AND over 5m, for 2m;
  * ticket (severity=warning):  burn > 6 over 6h AND over 30m, for 15m.

Objectives between bucket boundaries: vLLM's buckets are fixed in its code (no
flag sets them), so the share under an objective T with lo < T < hi is
interpolated linearly inside the bucket, the same assumption
`histogram_quantile` makes: good = N(le=lo) + (T-lo)/(hi-lo) * (N(le=hi) - N(le=lo)).
An objective on a boundary is exact; one outside the buckets is refused.
`le` is matched as `1|1.0` for integral bounds, which Prometheus 3 normalises.

`RuleWindows(scale=...)` shrinks every window and `for` (tests run a real
Prometheus for a minute with scale 1/60: 1h -> 60s); rule names keep the
nominal windows so expressions and dashboards read the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from gpufleet.core.errors import ConfigError
from gpufleet.core.slo import SloSpec
from gpufleet.core.slo_metrics import (
    COMPLETION_HANDLERS, ITL_BUCKETS, KSM_AVAILABLE, TTFT_BUCKETS, VLLM_E2E, VLLM_ITL, VLLM_KV_CACHE, VLLM_RUNNING,
    VLLM_TPOT, VLLM_TTFT, VLLM_WAITING, XID_ERRORS, GENERATION_TOKENS,
)

BY = "stack, release"
PAGE_BURN = 14.4
TICKET_BURN = 6.0
P95_BUDGET = 0.05
KV_CACHE_LIMIT = 0.9


@dataclass(frozen=True)
class RuleWindows:
    """Nominal windows (seconds) times `scale`; names always use the nominal ones."""

    scale: float = 1.0

    def seconds(self, nominal_s: float) -> float:
        return nominal_s * self.scale

    def duration(self, nominal_s: float) -> str:
        """A Prometheus duration for the scaled window, whole milliseconds, at least 1 s."""
        ms = max(1000, round(nominal_s * self.scale * 1000))
        if ms % 3_600_000 == 0:
            return f"{ms // 3_600_000}h"
        if ms % 60_000 == 0:
            return f"{ms // 60_000}m"
        if ms % 1000 == 0:
            return f"{ms // 1000}s"
        return f"{ms}ms"


# Nominal windows: name suffix -> seconds.
WINDOWS = {"5m": 300, "30m": 1800, "1h": 3600, "6h": 21600}
PAGE = ("1h", "5m", 120)      # long window, short window, for (s)
TICKET = ("6h", "30m", 900)


@dataclass(frozen=True)
class ReleaseInfo:
    """What the saturation rules need to know about a release from the config."""

    namespace: str
    deployment: str
    max_replicas: int


def le_matcher(bound: float) -> str:
    if float(bound).is_integer():
        return f'le=~"{int(bound)}|{int(bound)}\\\\.0"'
    return f'le="{bound!r}"'


def bracket(objective_s: float, buckets: tuple[float, ...], key: str) -> tuple[float, float | None]:
    """(lo, hi) boundaries around the objective; hi is None when it is exactly a boundary."""
    if objective_s in buckets:
        return objective_s, None
    if not buckets[0] < objective_s < buckets[-1]:
        allowed = f"{buckets[0] * 1000:g}..{buckets[-1] * 1000:g} ms"
        raise ConfigError(key, f"{objective_s * 1000:g} ms is outside vLLM's histogram buckets ({allowed})")
    lo = max(b for b in buckets if b < objective_s)
    hi = min(b for b in buckets if b > objective_s)
    return lo, hi


def good_rate(metric: str, objective_s: float, buckets: tuple[float, ...], window: str, key: str) -> str:
    """PromQL: rate of requests at or under the objective (interpolated inside its bucket)."""
    lo, hi = bracket(objective_s, buckets, key)
    low = f"sum by ({BY}) (rate({metric}_bucket{{{le_matcher(lo)}}}[{window}]))"
    if hi is None:
        return low
    high = f"sum by ({BY}) (rate({metric}_bucket{{{le_matcher(hi)}}}[{window}]))"
    frac = (objective_s - lo) / (hi - lo)
    return f"({low} + {frac:.6g} * ({high} - {low}))"


def _recording_windows(slo: SloSpec, w: RuleWindows) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    sel = f'handler=~"{COMPLETION_HANDLERS}"'
    for name, nominal in WINDOWS.items():
        d = w.duration(nominal)
        total = f"sum by ({BY}) (rate(http_requests_total{{{sel}}}[{d}]))"
        errors = f'sum by ({BY}) (rate(http_requests_total{{{sel},status="5xx"}}[{d}]))'
        rules.append({"record": f"gpufleet:vllm_requests:rate{name}", "expr": total})
        # No 5xx series exists before the first error: `or 0 * total` makes the ratio 0, not empty.
        rules.append({"record": f"gpufleet:vllm_request_errors:ratio_rate{name}",
                      "expr": f"(\n  {errors}\n  or\n  0 * {total}\n)\n/\n{total}"})
        for sli, metric, objective_ms, buckets, key in _latency_slis(slo):
            count = f"sum by ({BY}) (rate({metric}_count[{d}]))"
            good = good_rate(metric, objective_ms / 1000, buckets, d, key)
            rules.append({"record": f"gpufleet:vllm_{sli}_over_slo:ratio_rate{name}",
                          "expr": f"1 - (\n  {good}\n/\n  {count}\n)"})
    return rules


def _latency_slis(slo: SloSpec) -> list[tuple[str, str, float, tuple[float, ...], str]]:
    slis = [("ttft", VLLM_TTFT, slo.ttft_p95_ms, TTFT_BUCKETS, "gpufleet:slo.ttftP95Ms")]
    if slo.tpot_p95_ms is not None:
        slis.append(("tpot", VLLM_TPOT, slo.tpot_p95_ms, ITL_BUCKETS, "gpufleet:slo.tpotP95Ms"))
    return slis


def _recording_levels(w: RuleWindows) -> list[dict[str, Any]]:
    """Percentiles and levels for dashboards, autoscaling (#11) and canary analysis (#12)."""
    d = w.duration(WINDOWS["5m"])
    rules = [{"record": f"gpufleet:vllm_{short}_seconds:p95_5m",
              "expr": f"histogram_quantile(0.95, sum by ({BY}, le) (rate({metric}_bucket[{d}])))"}
             for short, metric in (("ttft", VLLM_TTFT), ("tpot", VLLM_TPOT), ("itl", VLLM_ITL), ("e2e", VLLM_E2E))]
    rules += [
        {"record": "gpufleet:vllm_num_requests_waiting:sum", "expr": f"sum by ({BY}) ({VLLM_WAITING})"},
        {"record": "gpufleet:vllm_num_requests_running:sum", "expr": f"sum by ({BY}) ({VLLM_RUNNING})"},
        {"record": "gpufleet:vllm_num_requests_waiting:avg", "expr": f"avg by ({BY}) ({VLLM_WAITING})"},
        {"record": "gpufleet:vllm_kv_cache_usage:max", "expr": f"max by ({BY}) ({VLLM_KV_CACHE})"},
        {"record": "gpufleet:vllm_generation_tokens:rate5m", "expr": f"sum by ({BY}) (rate({GENERATION_TOKENS}[{d}]))"},
    ]
    return rules


def _recording_replicas(stack: str, releases: Mapping[str, ReleaseInfo]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for name, info in sorted(releases.items()):
        labels = {"stack": stack, "release": name}
        sel = f'namespace="{info.namespace}",deployment="{info.deployment}"'
        rules.append({"record": "gpufleet:release_replicas:available", "expr": f"max({KSM_AVAILABLE}{{{sel}}})",
                      "labels": labels})
        rules.append({"record": "gpufleet:release_replicas:max", "expr": f"vector({info.max_replicas})",
                      "labels": labels})
    return rules


def budgets(slo: SloSpec) -> dict[str, tuple[float, str]]:
    """SLI -> (error budget as a share, the config key it comes from)."""
    out = {"errors": (slo.max_error_rate, "gpufleet:slo.maxErrorRate")}
    for sli, _metric, _ms, _b, key in _latency_slis(slo):
        out[sli] = (P95_BUDGET, key)
    return out


def _burn_alerts(stack: str, slo: SloSpec, w: RuleWindows) -> list[dict[str, Any]]:
    names = {"errors": ("VllmErrorBudgetBurn", "gpufleet:vllm_request_errors:ratio_rate", "5xx responses"),
             "ttft": ("VllmTtftBudgetBurn", "gpufleet:vllm_ttft_over_slo:ratio_rate", f"TTFT over {slo.ttft_p95_ms:g} ms"),
             "tpot": ("VllmTpotBudgetBurn", "gpufleet:vllm_tpot_over_slo:ratio_rate", f"TPOT over {slo.tpot_p95_ms or 0:g} ms")}
    alerts: list[dict[str, Any]] = []
    for sli, (budget, key) in budgets(slo).items():
        if budget <= 0:
            raise ConfigError(key, "a zero error budget cannot be burned at a rate; set a positive share")
        if PAGE_BURN * budget >= 1:
            raise ConfigError(key, f"an error budget of {budget:g} makes the {PAGE_BURN}x page burn rate "
                                   f"unreachable (allowed: below {1 / PAGE_BURN:.4f})")
        alert, record, what = names[sli]
        for severity, (long, short, for_s), burn in (("critical", PAGE, PAGE_BURN), ("warning", TICKET, TICKET_BURN)):
            threshold = burn * budget
            kind = "Page" if severity == "critical" else "Ticket"
            alerts.append({
                "alert": f"{alert}{kind}",
                "expr": f"{record}{long} > {threshold:.6g}\nand\n{record}{short} > {threshold:.6g}",
                "for": w.duration(for_s),
                "labels": {"severity": severity, "slo": sli, "stack": stack},
                "annotations": {
                    "summary": f"{{{{ $labels.release }}}}: {what} burn the error budget {burn:g}x too fast",
                    "description": (f"Share of requests with {what} is {{{{ $value | humanizePercentage }}}} "
                                    f"over {long} and {short} (budget {budget:.4g}, from {key})."),
                },
            })
    return alerts


def _saturation_alerts(stack: str, w: RuleWindows) -> list[dict[str, Any]]:
    labels = {"stack": stack}
    waiting = "gpufleet:vllm_num_requests_waiting:sum"
    queue = (f"({waiting} > 0)\nand on ({BY})\n(deriv({waiting}[{w.duration(600)}]) > 0)\nand on ({BY})\n"
             f"(gpufleet:release_replicas:available >= on ({BY}) gpufleet:release_replicas:max)")
    return [
        {"alert": "VllmQueueGrowingAtMaxReplicas", "expr": queue, "for": w.duration(600),
         "labels": {**labels, "severity": "critical", "kind": "saturation"},
         "annotations": {"summary": "{{ $labels.release }}: queue growing with every allowed replica running",
                         "description": "{{ $value }} requests waiting; raise maxReplicas or the GPU pool's maxSize."}},
        {"alert": "VllmKvCacheSaturated", "expr": f"{VLLM_KV_CACHE} > {KV_CACHE_LIMIT}", "for": w.duration(900),
         "labels": {**labels, "severity": "warning", "kind": "saturation"},
         "annotations": {"summary": "{{ $labels.release }} {{ $labels.pod }}: KV cache above 90% for 15m",
                         "description": "KV-cache usage {{ $value | humanizePercentage }}; expect preemptions."}},
        {"alert": "GpuXidErrors", "expr": f"max_over_time({XID_ERRORS}[{w.duration(300)}]) > 0",
         "labels": {**labels, "severity": "warning", "kind": "gpu"},
         "annotations": {"summary": "GPU {{ $labels.gpu }} on {{ $labels.Hostname }}{{ $labels.hostname }}: XID error",
                         "description": "Last XID {{ $value }} (see NVIDIA's XID catalogue); drain the node if it repeats."}},
        {"alert": "GpufleetScrapeTargetDown", "expr": f'up{{stack="{stack}"}} == 0', "for": w.duration(300),
         "labels": {**labels, "severity": "warning", "kind": "scrape"},
         "annotations": {"summary": "{{ $labels.job }} {{ $labels.instance }} is not scraped",
                         "description": "Prometheus cannot scrape this target; its alerts are blind."}},
        {"alert": "VllmReleaseNoReadyReplicas", "expr": "gpufleet:release_replicas:available == 0",
         "for": w.duration(300), "labels": {**labels, "severity": "critical", "kind": "availability"},
         "annotations": {"summary": "{{ $labels.release }} has no available replica",
                         "description": "The release's Deployment has 0 available pods."}},
    ]


def rule_groups(stack: str, slo: SloSpec, releases: Mapping[str, ReleaseInfo],
                windows: RuleWindows | None = None, interval: str | None = None) -> list[dict[str, Any]]:
    """The rule groups of one stack (`interval` per group, default: Prometheus's own)."""
    w = windows or RuleWindows()
    extra = {"interval": interval} if interval else {}
    return [
        {"name": "gpufleet-slo-recording", **extra,
         "rules": _recording_windows(slo, w) + _recording_levels(w) + _recording_replicas(stack, releases)},
        {"name": "gpufleet-slo-burn", **extra, "rules": _burn_alerts(stack, slo, w)},
        {"name": "gpufleet-saturation", **extra, "rules": _saturation_alerts(stack, w)},
    ]


def alert_names(groups: list[dict[str, Any]]) -> list[str]:
    return [r["alert"] for g in groups for r in g["rules"] if "alert" in r]


def record_names(groups: list[dict[str, Any]]) -> list[str]:
    return sorted({r["record"] for g in groups for r in g["rules"] if "record" in r})


class _Dumper(yaml.SafeDumper):
    """Multi-line expressions as literal blocks, so rule files read like hand-written ones."""


def _str(dumper: Any, value: str) -> Any:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def rules_file_text(groups: list[dict[str, Any]]) -> str:
    """A Prometheus rule file (`promtool check rules` input) holding `groups`."""
    import yaml

    return yaml.dump({"groups": groups}, Dumper=_Dumper, sort_keys=False, width=10_000, allow_unicode=True)


def stack_release_infos(cfg: Any) -> dict[str, ReleaseInfo]:
    """ReleaseInfo per release of a validated StackConfig (names as the ModelServer component makes them)."""
    from gpufleet.core.scheduling import release_namespace

    return {name: ReleaseInfo(release_namespace(name), f"vllm-{name}", r.effective_max_replicas)
            for name, r in cfg.releases.items()}


def stack_rule_groups(cfg: Any, windows: RuleWindows | None = None) -> list[dict[str, Any]]:
    """The rule groups of a validated StackConfig."""
    return rule_groups(cfg.stack, cfg.slo, stack_release_infos(cfg), windows)
