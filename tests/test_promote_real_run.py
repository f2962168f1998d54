"""A real (not dry) `gpufleet promote`, end to end through the CLI, with the cloud replaced at its boundaries.

Pulumi is stubbed at the Automation API (outputs, apply); a local HTTP server plays the Kubernetes API
server: the candidate's Deployment and pods for the rollout check, and the service proxy in front of the
in-cluster Prometheus, which answers the analysis's PromQL from the weights the fake stack has applied.
The gate runs for real against a local simulator (`--host`). This is the wiring a promotion of a real
stack goes through: KubeRolloutCheck, the proxy transport, the analysis, the apply and the rollback.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from gpufleet.cli import main
from gpufleet.core.promotion_config import PromotionConfig
from gpufleet.promote import automation
from gpufleet.promote.audit import read_audit
from gpufleet.simserver.launch import LocalServer
from promfake import HEALTHY, FakeTransport
from test_promote_command import QUICK_SLO, project, promote

pytestmark = pytest.mark.slow

PROMOTION = {"intervalS": 2, "iterations": 1, "failureLimit": 1, "minRequests": 5}
PROXY = "/api/v1/namespaces/monitoring/services/kps-prometheus:9090/proxy/api/v1/"
DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "vllm-green", "namespace": "llm-green", "generation": 3},
              "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "vllm-green"}},
                       "template": {"metadata": {"labels": {"app": "vllm-green"}},
                                    "spec": {"containers": [{"name": "vllm"}]}}},
              "status": {"observedGeneration": 3, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}}
PODS = {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": [
    {"metadata": {"name": "vllm-green-0", "namespace": "llm-green"}, "spec": {"containers": [{"name": "vllm"}]},
     "status": {"conditions": [{"type": "Ready", "status": "True"}]}}]}


class Cluster:
    """The fake API server's state: what the stack has applied decides what Prometheus answers."""

    def __init__(self, ttft_at_100: float) -> None:
        self.weights = {"blue": 100, "green": 0}
        self.ttft_at_100 = ttft_at_100
        self.paths: list[str] = []
        self.lookup = FakeTransport(lambda m, r: None, PromotionConfig.model_validate(PROMOTION))._lookup

    def value(self, metric: str, release: str) -> float | None:
        share = self.weights[release]
        if metric == "requests":
            return share * 1.0
        if metric == "ttft_p95_ms" and release == "green" and self.weights["green"] == 100:
            return self.ttft_at_100
        return HEALTHY[metric]

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        self.paths.append(path)
        if path == "/apis/apps/v1/namespaces/llm-green/deployments/vllm-green":
            return 200, DEPLOYMENT
        if path == "/api/v1/namespaces/llm-green/pods":
            return 200, PODS
        if path == PROXY + "query":
            if query["query"] == "vector(1)":
                return 200, {"status": "success", "data": {"resultType": "vector",
                                                           "result": [{"metric": {}, "value": [1, "1"]}]}}
            value = self.value(*self.lookup(query["query"]))
            result = [] if value is None else [{"metric": {}, "value": [float(query["time"]), str(value)]}]
            return 200, {"status": "success", "data": {"resultType": "vector", "result": result}}
        if path == PROXY + "query_range":
            return 200, {"status": "success", "data": {"resultType": "matrix", "result": []}}
        return 404, {"kind": "Status", "message": f"{path} not found"}


@pytest.fixture
def cluster(request: pytest.FixtureRequest) -> Iterator[tuple[Cluster, str]]:
    state = Cluster(getattr(request, "param", 60.0))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            parts = urlsplit(self.path)
            status, body = state.answer(parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()})
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run_real(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state: Cluster, api: str, *extra: str) -> int:
    kubeconfig = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
                  "clusters": [{"name": "k", "cluster": {"server": api}}],
                  "users": [{"name": "u", "user": {"token": "t"}}],
                  "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}]}

    class FakePulumiStack:
        applies: list[dict[str, int]] = []

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def outputs(self) -> dict[str, Any]:
            return {"kubeconfig": json.dumps(kubeconfig), "gatewayAddress": "k8s-gw.elb.amazonaws.com"}

        def apply(self, weights: dict[str, int], *, message: str) -> None:
            FakePulumiStack.applies.append(dict(weights))
            state.weights = dict(weights)

    monkeypatch.setattr(automation, "PulumiStack", FakePulumiStack)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "pulumi").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    root = project(tmp_path, **{"gpufleet:promotion": PROMOTION, "gpufleet:slo": QUICK_SLO})
    with LocalServer(ttft_ms=50, itl_ms=5, model="qwen3-8b") as candidate:
        return main(promote(tmp_path, "--steps", "50,100", "--settle", "0", "--host", candidate.url, *extra,
                            root=root))


def test_a_real_promotion_reaches_100_percent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str], cluster: tuple[Cluster, str]) -> None:
    state, api = cluster
    code = run_real(tmp_path, monkeypatch, state, api, "--html", str(tmp_path / "r.html"))
    out = capsys.readouterr().out
    assert code == 0, out
    assert state.weights == {"blue": 0, "green": 100}
    assert "promoted: green promoted to 100%" in out
    assert "  analysis: 1 x 2 s of live traffic per step from service monitoring/kps-prometheus:9090 " \
           "(Kubernetes API proxy)" in out
    events = read_audit(tmp_path / "audit.jsonl")
    assert [(e["step"], e["verdict"]) for e in events if e["event"] == "analysis"] == [(1, "pass"), (2, "pass")]
    assert "/apis/apps/v1/namespaces/llm-green/deployments/vllm-green" in state.paths
    assert (tmp_path / "r.html").exists()


@pytest.mark.parametrize("cluster", [400.0], indirect=True)
def test_a_regression_at_100_percent_rolls_back_to_50(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str],
                                                      cluster: tuple[Cluster, str]) -> None:
    state, api = cluster
    code = run_real(tmp_path, monkeypatch, state, api)
    out = capsys.readouterr().out
    assert code == 1, out
    assert state.weights == {"blue": 50, "green": 50}  # the last good weights, applied again
    finished = read_audit(tmp_path / "audit.jsonl")[-1]
    assert (finished["result"], finished["weights"]) == ("rolled-back", {"blue": 50, "green": 50})
    assert finished["reason"] == ("step 2 analysis verdict fail: 1 consecutive iteration not passing (failureLimit 1); "
                                  "last: fail: ttft_p95_ms 400.0 ms > 72.0 ms (baseline 60.0 ms x 1.2)")
