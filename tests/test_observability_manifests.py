"""The metrics pipeline as the program registers it: custom resources valid against their upstream
CRDs, one PodMonitor per release, charts and images pinned and in-region for China, the
model servers open to the monitoring namespace only, and the preview's listing."""

from __future__ import annotations

import json

import pytest

from conftest import cached_preview, shipped_stacks
from gpufleet.core.config import load_stack
from gpufleet.core.moderation_stage import stage_enabled
from gpufleet.core.crds import crd_errors, custom_resources
from gpufleet.core.naming import acr_vpc_host
from gpufleet.core.observability_charts import catalog, charts_for
from gpufleet.core.observability_manifests import observability_objects, release_pod_monitor
from gpufleet.observability import preview as obs_preview
from gpufleet.observability.promtool import NOT_INSTALLED
from tests.system_tools import require_tool

STACKS = shipped_stacks()
CN = [s for s in STACKS if load_stack(s).jurisdiction == "cn"]


def registered(stack: str, kind: str) -> list[dict]:
    return [r.inputs for r in cached_preview(stack).resources if r.inputs.get("kind") == kind]


@pytest.mark.parametrize("stack", STACKS)
def test_every_custom_resource_is_valid_against_its_crd(stack):
    crs = list(custom_resources([r.inputs for r in cached_preview(stack).resources if "kind" in r.inputs]))
    kinds = {c["kind"] for c in crs}
    assert {"PodMonitor", "PrometheusRule"} <= kinds
    for cr in crs:
        assert crd_errors(cr) == [], (cr["kind"], cr["metadata"]["name"])


def test_crd_validation_catches_a_bad_rule():
    rule = next(o for o in observability_objects(load_stack("prod-us-east-1")) if o["kind"] == "PrometheusRule")
    bad = json.loads(json.dumps(rule))
    bad["spec"]["groups"][1]["rules"][0]["for"] = "two minutes"
    assert any("for" in e for e in crd_errors(bad))


@pytest.mark.parametrize("stack", STACKS)
def test_every_release_has_a_pod_monitor_labelled_stack_release_model(stack):
    cfg = load_stack(stack)
    monitors = {m["metadata"]["name"]: m for m in registered(stack, "PodMonitor")}
    for name, release in cfg.releases.items():
        m = monitors[f"vllm-{name}"]
        assert m["metadata"]["namespace"] == f"llm-{name}"
        assert m["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "vllm",
                                                        "app.kubernetes.io/instance": name}
        endpoint = m["spec"]["podMetricsEndpoints"][0]
        assert (endpoint["port"], endpoint["path"]) == ("http", "/metrics")
        labels = {r["targetLabel"]: r["replacement"] for r in endpoint["relabelings"]}
        assert labels == {"stack": stack, "release": name, "model": release.model}


@pytest.mark.parametrize("stack", STACKS)
def test_model_server_netpols_admit_monitoring_on_the_serving_port_and_nothing_else_new(stack):
    cfg = load_stack(stack)
    moderated = stage_enabled(cfg)  # then only the moderation proxy, not the gateway, reaches vLLM
    for name in cfg.releases:
        policies = [p for p in registered(stack, "NetworkPolicy") if p["metadata"]["namespace"] == f"llm-{name}"
                    and p["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name") != "moderation-proxy"]
        ingress = [rule for p in policies for rule in p["spec"].get("ingress", [])]
        assert len(ingress) == (2 if moderated else 1)
        (peer,) = ingress[0]["from"]
        assert peer["namespaceSelector"]["matchExpressions"][0]["values"] == (
            ["monitoring"] if moderated else ["gateway", "monitoring"])
        assert ingress[0]["ports"] == [{"protocol": "TCP", "port": 8000}]
        if moderated:
            assert ingress[1] == {"from": [{"podSelector": {"matchLabels": {
                "app.kubernetes.io/name": "moderation-proxy", "app.kubernetes.io/instance": name}}}],
                "ports": [{"protocol": "TCP", "port": 8000}]}


@pytest.mark.parametrize("stack", CN)
def test_china_pulls_every_chart_and_image_from_its_own_acr(stack):
    cfg = load_stack(stack)
    host = acr_vpc_host(stack, cfg.region)
    public = host.replace("-registry-vpc.", "-registry.")
    text = json.dumps([values for _chart, values in charts_for(cfg)])
    for chart, _values in charts_for(cfg):
        assert chart.chart == f"oci://{public}/gpufleet/{chart.name}" and chart.repo is None
    upstream = [entry["image"].split("/")[0] for entry in catalog()["images"].values()]
    assert not any(f'"registry": "{u}"' in text or f'"{u}/' in text for u in upstream), text[:400]
    assert text.count(host) >= len(catalog()["images"]) - 1  # metrics-server is EKS only


def test_global_stacks_pin_chart_versions_and_image_tags():
    cfg = load_stack("prod-us-east-1")
    names = [c.name for c, _ in charts_for(cfg)]
    assert names == ["kube-prometheus-stack", "dcgm-exporter", "metrics-server"]
    assert all(c.version and c.repo.startswith("https://") for c, _ in charts_for(cfg))
    kps = charts_for(cfg)[0][1]
    spec = kps["prometheus"]["prometheusSpec"]
    assert spec["image"] == {"registry": "quay.io", "repository": "prometheus/prometheus", "tag": "v3.5.0"}
    assert (spec["retention"], spec["replicas"], spec["scrapeInterval"]) == ("15d", 2, "30s")
    assert spec["storageSpec"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"] == "100Gi"
    assert "remoteWrite" not in spec
    assert kps["grafana"]["sidecar"]["dashboards"]["label"] == "grafana_dashboard"
    assert "metrics-server" not in [c.name for c, _ in charts_for(load_stack("prod-cn-beijing"))]


def test_dcgm_runs_on_the_gpu_pool_only():
    cfg = load_stack("prod-eu-central-1")
    values = dict(charts_for(cfg))[next(c for c, _ in charts_for(cfg) if c.name == "dcgm-exporter")]
    assert values["nodeSelector"]["gpufleet.io/pool"] == "gpu"
    assert values["tolerations"][0]["key"] == "nvidia.com/gpu"


def test_release_pod_monitor_follows_the_scrape_interval():
    from conftest import edited_stack
    cfg = load_stack("prod-us-east-1", text=edited_stack("prod-us-east-1",
                                                         {"gpufleet:observability": {"scrapeIntervalS": 15}}))
    assert release_pod_monitor(cfg, "blue")["spec"]["podMetricsEndpoints"][0]["interval"] == "15s"


# ---------------------------------------------------------------- preview listing


@pytest.mark.parametrize("stack", STACKS)
def test_preview_lists_targets_dashboards_rules_and_promtool_result(stack):
    require_tool("promtool")
    cfg = load_stack(stack)
    doc = obs_preview.observability_json(cached_preview(stack))
    for name in cfg.releases:
        assert f"PodMonitor llm-{name}/vllm-{name}" in doc["scrapeTargets"]
    assert any(t.startswith("dcgm-exporter") for t in doc["scrapeTargets"])
    assert doc["dashboards"] == ["fleet-overview.json", *sorted(f"release-{r}.json" for r in cfg.releases)]
    assert {"VllmTtftBudgetBurnPage", "VllmErrorBudgetBurnPage", "GpuXidErrors"} <= {a["alert"] for a in doc["alerts"]}
    assert doc["promtool"].startswith("promtool check rules: SUCCESS: ")


def test_preview_says_in_one_line_when_promtool_is_missing(monkeypatch):
    monkeypatch.setattr(obs_preview, "promtool_path", lambda: None)
    obs_preview._promtool_line.cache_clear()
    try:
        doc = obs_preview.observability_json(cached_preview("prod-eu-central-1"))
    finally:
        obs_preview._promtool_line.cache_clear()
    assert doc["promtool"] == NOT_INSTALLED and "\n" not in NOT_INSTALLED
    assert doc["alerts"]  # the rest of the listing still comes


def test_preview_cli_json_carries_the_observability_listing(capsys):
    from gpufleet.cli import main
    main(["preview", "--stack", "prod-cn-hangzhou", "--json"])
    stack = json.loads(capsys.readouterr().out)["stacks"][0]
    assert stack["observability"]["dashboards"][0] == "fleet-overview.json"


@pytest.mark.parametrize("stack", STACKS)
def test_the_program_registers_the_pinned_helm_releases(stack):
    cfg = load_stack(stack)
    releases = {r.inputs["name"]: r.inputs for r in cached_preview(stack).resources
                if r.type == "kubernetes:helm.sh/v3:Release" and r.name.startswith(f"{stack}-observability-")}
    expected = {"kps", "dcgm-exporter"} | ({"metrics-server"} if cfg.cloud == "aws" else set())
    assert set(releases) == expected
    versions = {name: entry["version"] for name, entry in catalog()["charts"].items()}
    assert releases["kps"]["version"] == versions["kube-prometheus-stack"]
    assert releases["kps"]["namespace"] == "monitoring"
    assert releases["dcgm-exporter"]["version"] == versions["dcgm-exporter"]
    if cfg.cloud == "aws":
        assert releases["metrics-server"]["namespace"] == "kube-system"
        assert releases["kps"]["repositoryOpts"]["repo"] == catalog()["charts"]["kube-prometheus-stack"]["repository"]
    else:
        assert "repositoryOpts" not in releases["kps"] and releases["kps"]["chart"].startswith("oci://")


def test_keda_reaches_the_prometheus_api_and_nothing_else_is_opened_to_it():
    from gpufleet.core.autoscaling import PROMETHEUS_URL
    from gpufleet.core.observability_manifests import monitoring_network_policies
    assert PROMETHEUS_URL == "http://kps-prometheus.monitoring.svc:9090"  # kube-prometheus-stack as "kps"
    assert charts_for(load_stack("prod-us-east-1"))[0][1]["fullnameOverride"] == "kps"
    policies = {p["metadata"]["name"]: p["spec"] for p in monitoring_network_policies(load_stack("prod-us-east-1"))}
    keda = policies["prometheus-api-from-keda"]
    assert keda["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}
    assert keda["ingress"] == [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}}],
                                "ports": [{"protocol": "TCP", "port": 9090}]}]
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


@pytest.mark.parametrize("stack", ["prod-us-east-1", "prod-cn-hangzhou"])
def test_the_stack_rule_carries_the_gpu_stockout_alerts_too(stack):
    (rule,) = registered(stack, "PrometheusRule")
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}
    cloud_alert = "KarpenterInsufficientCapacity" if load_stack(stack).cloud == "aws" else "ClusterAutoscalerScaleUpFailing"
    assert {"GpuCapacityShortfall", cloud_alert, "VllmTtftBudgetBurnPage"} <= alerts
