"""Grafana dashboards as code: a fleet overview and one dashboard per release, per stack.

Written from vLLM's documented metric names (`slo_metrics.py`) and the recording
rules of `slo_rules.py`; the SLO lines come from `gpufleet:slo` (threshold lines
on the latency and error panels). Loaded by Grafana's sidecar from ConfigMaps
labelled `grafana_dashboard: "1"`. `tests/test_dashboards.py` parses every
expression with promtool and checks it names only served metrics.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from gpufleet.core.slo_metrics import (
    GENERATION_TOKENS, PREEMPTIONS, PREFIX_CACHE_HITS, PREFIX_CACHE_QUERIES, VLLM_E2E, VLLM_ITL, VLLM_KV_CACHE,
    VLLM_RUNNING, VLLM_TPOT, VLLM_TTFT, VLLM_WAITING,
)

if TYPE_CHECKING:
    from gpufleet.core.config import StackConfig

RATE = "$__rate_interval"
DS = {"type": "prometheus", "uid": "${datasource}"}


def _panel(title: str, targets: list[tuple[str, str]], unit: str, slo: float | None = None,
           kind: str = "timeseries") -> dict[str, Any]:
    steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
    defaults: dict[str, Any] = {"unit": unit}
    if slo is not None:
        steps.append({"color": "red", "value": slo})
        defaults["custom"] = {"thresholdsStyle": {"mode": "line"}}
    defaults["thresholds"] = {"mode": "absolute", "steps": steps}
    return {"type": kind, "title": title, "datasource": DS, "fieldConfig": {"defaults": defaults, "overrides": []},
            "targets": [{"expr": e, "legendFormat": legend, "refId": chr(65 + i), "datasource": DS}
                        for i, (e, legend) in enumerate(targets)]}


def _q(metric: str, sel: str, q: float, by: str = "release") -> str:
    return f"histogram_quantile({q}, sum by ({by}, le) (rate({metric}_bucket{{{sel}}}[{RATE}])))"


def _latency(title: str, metric: str, sel: str, slo_ms: float | None, by: str) -> dict[str, Any]:
    targets = [(_q(metric, sel, q, by), f"p{int(q * 100)} {{{{{by}}}}}") for q in (0.5, 0.95, 0.99)]
    return _panel(title, targets, "s", None if slo_ms is None else slo_ms / 1000)


def _panels(cfg: "StackConfig", sel: str, by: str) -> list[dict[str, Any]]:
    slo = cfg.slo
    handler = 'handler=~"/v1/chat/completions|/v1/completions"'
    hsel = f"{sel},{handler}" if sel else handler
    return [
        _panel("Requests/s", [(f"sum by ({by}) (rate(http_requests_total{{{hsel}}}[{RATE}]))", f"{{{{{by}}}}}")], "reqps"),
        _panel("Error ratio (5xx)", [(f'sum by ({by}) (rate(http_requests_total{{{hsel},status="5xx"}}[{RATE}])) / '
                                      f"sum by ({by}) (rate(http_requests_total{{{hsel}}}[{RATE}]))", f"{{{{{by}}}}}")],
               "percentunit", slo.max_error_rate),
        _latency("TTFT (SLO line: ttftP95Ms)", VLLM_TTFT, sel, slo.ttft_p95_ms, by),
        _latency("TPOT per request (SLO line: tpotP95Ms)", VLLM_TPOT, sel, slo.tpot_p95_ms, by),
        _latency("Inter-token latency (SLO line: itlP95Ms)", VLLM_ITL, sel, slo.itl_p95_ms, by),
        _latency("End-to-end latency (SLO line: e2eP95Ms)", VLLM_E2E, sel, slo.e2e_p95_ms, by),
        _panel("Queue: running and waiting", [(f"sum by ({by}) ({VLLM_RUNNING}{{{sel}}})", f"running {{{{{by}}}}}"),
                                              (f"sum by ({by}) ({VLLM_WAITING}{{{sel}}})", f"waiting {{{{{by}}}}}")], "short"),
        _panel("KV-cache usage (max over replicas)", [(f"max by ({by}) ({VLLM_KV_CACHE}{{{sel}}})", f"{{{{{by}}}}}")],
               "percentunit", 0.9),
        _panel("Prefix-cache hit rate", [(f"sum by ({by}) (rate({PREFIX_CACHE_HITS}{{{sel}}}[{RATE}])) / "
                                          f"sum by ({by}) (rate({PREFIX_CACHE_QUERIES}{{{sel}}}[{RATE}]))",
                                          f"{{{{{by}}}}}")], "percentunit"),
        _panel("Preemptions/s", [(f"sum by ({by}) (rate({PREEMPTIONS}{{{sel}}}[{RATE}]))", f"{{{{{by}}}}}")], "short"),
        _panel("Generated tokens/s", [(f"sum by ({by}) (rate({GENERATION_TOKENS}{{{sel}}}[{RATE}]))", f"{{{{{by}}}}}")],
               "short", slo.min_output_tokens_per_s),
        _panel("Replicas: available and max", [
            (f"gpufleet:release_replicas:available{{{sel}}}", "available {{release}}"),
            (f"gpufleet:release_replicas:max{{{sel}}}", "max {{release}}")], "short"),
    ]


def _gpu_panels(cfg: "StackConfig") -> list[dict[str, Any]]:
    stack = f'stack="{cfg.stack}"'
    return [
        _panel("GPU utilisation", [(f"avg by (hostname, gpu) (DCGM_FI_DEV_GPU_UTIL{{{stack}}})",
                                    "{{hostname}} GPU {{gpu}}")], "percent"),
        _panel("GPU memory used", [(f"sum by (hostname, gpu) (DCGM_FI_DEV_FB_USED{{{stack}}}) * 1024 * 1024",
                                    "{{hostname}} GPU {{gpu}}")], "bytes"),
        _panel("GPU power", [(f"sum by (hostname, gpu) (DCGM_FI_DEV_POWER_USAGE{{{stack}}})",
                              "{{hostname}} GPU {{gpu}}")], "watt"),
        _panel("Nodes (GPU pool / all)", [('count(kube_node_labels{label_gpufleet_io_pool="gpu"})', "GPU nodes"),
                                          ("count(kube_node_info)", "all nodes")], "short"),
        _panel("Gateway requests/s per route and status", [
            ("sum by (envoy_cluster_name, envoy_response_code_class) "
             f"(rate(envoy_cluster_upstream_rq_xx[{RATE}]))", "{{envoy_cluster_name}} {{envoy_response_code_class}}xx")],
            "reqps"),
        _panel("Gateway upstream latency p95 per route", [(
            "histogram_quantile(0.95, sum by (envoy_cluster_name, le) "
            f"(rate(envoy_cluster_upstream_rq_time_bucket[{RATE}])))", "{{envoy_cluster_name}}")], "ms"),
    ]


def _layout(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for i, panel in enumerate(panels):
        panel["id"] = i + 1
        panel["gridPos"] = {"x": (i % 2) * 12, "y": (i // 2) * 8, "w": 12, "h": 8}
    return panels


def _dashboard(uid: str, title: str, panels: list[dict[str, Any]], stack: str) -> dict[str, Any]:
    return {
        "uid": uid[:40], "title": title, "tags": ["gpufleet", stack], "editable": False, "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"}, "refresh": "30s",
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus",
                                 "current": {"text": "Prometheus", "value": "prometheus"}}]},
        "panels": _layout(panels),
    }


def stack_dashboards(cfg: "StackConfig") -> dict[str, dict[str, Any]]:
    """file name -> dashboard JSON model: `fleet-overview.json` and `release-<name>.json`."""
    stack = f'stack="{cfg.stack}"'
    out = {"fleet-overview.json": _dashboard(f"gpufleet-{cfg.stack}", f"gpufleet {cfg.stack}: fleet overview",
                                             _panels(cfg, stack, "release") + _gpu_panels(cfg), cfg.stack)}
    for name in sorted(cfg.releases):
        sel = f'{stack},release="{name}"'
        out[f"release-{name}.json"] = _dashboard(f"gpufleet-{cfg.stack}-{name}", f"gpufleet {cfg.stack}: release {name}",
                                                 _panels(cfg, sel, "pod"), cfg.stack)
    return out


def dashboard_expressions(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p["targets"]]


def dashboard_json(dashboard: dict[str, Any]) -> str:
    return json.dumps(dashboard, indent=1, sort_keys=True)
