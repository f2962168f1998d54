"""The Prometheus client over real HTTP: a configured URL, and the Kubernetes API proxy with the official client.

A small local HTTP server plays Prometheus (and, for the proxy, the API server), records each request's
path and query, and answers what the test says; the local router is driven through its admin socket.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from gpufleet.core.promotion_config import PromotionConfig
from gpufleet.promote.live import prometheus_client
from gpufleet.promote.machine import ApplyError
from gpufleet.promote.prometheus import PrometheusClient, PrometheusError, UrlTransport
from gpufleet.promote.router import LocalRouter, RouterStack
from system_tools import free_port, require_tool


class FakePrometheus:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], str | None]] = []  # path, query, authorization
        self.answer: tuple[int, Any] = (200, {"status": "success", "data": {"resultType": "vector", "result": []}})

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                parts = urlsplit(self.path)
                fake.requests.append((parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()},
                                      self.headers.get("Authorization")))
                status, body = fake.answer
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def prom() -> Iterator[tuple[FakePrometheus, str]]:
    fake = FakePrometheus()
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def vector(*values: str) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": "vector",
                                          "result": [{"metric": {}, "value": [1.0, v]} for v in values]}}


def test_an_instant_query_by_url(prom: tuple[FakePrometheus, str]) -> None:
    fake, url = prom
    fake.answer = (200, vector("0.25"))
    client = PrometheusClient(UrlTransport(url + "/"))
    assert client.query('sum(rate(x{namespace="llm-green"}[60s]))', at=1700000000.5) == 0.25
    path, query, _ = fake.requests[0]
    assert path == "/api/v1/query"
    assert query == {"query": 'sum(rate(x{namespace="llm-green"}[60s]))', "time": "1700000000.500"}


@pytest.mark.parametrize("answer, result", [(vector(), None), (vector("NaN"), None), (vector("+Inf"), float("inf")),
                                            ({"status": "success", "data": {"resultType": "scalar",
                                                                            "result": [1.0, "3"]}}, 3.0)])
def test_no_data_nan_and_infinity(prom: tuple[FakePrometheus, str], answer: Any, result: float | None) -> None:
    fake, url = prom
    fake.answer = (200, answer)
    assert PrometheusClient(UrlTransport(url)).query("q", at=1.0) == result


@pytest.mark.parametrize("answer, message", [
    ((400, {"status": "error", "errorType": "bad_data", "error": "1:5: parse error: unexpected end of input"}),
     "answered HTTP 400: 1:5: parse error: unexpected end of input"),
    ((200, vector("1", "2")), "expected one series, Prometheus answered 2 (aggregate the query)"),
    ((200, b"<html>login</html>"), "did not answer JSON: <html>login</html>"),
    ((200, {"status": "error", "error": "query timed out in expression evaluation"}),
     "Prometheus rejected the query: query timed out in expression evaluation"),
    ((200, vector("abc")), "Prometheus answered a value that is not a number: [1.0, 'abc']"),
])
def test_every_bad_answer_is_one_line_error(prom: tuple[FakePrometheus, str], answer: Any, message: str) -> None:
    fake, url = prom
    fake.answer = answer
    with pytest.raises(PrometheusError) as err:
        PrometheusClient(UrlTransport(url)).query("q", at=1.0)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_an_unreachable_prometheus_is_an_error_not_a_hang() -> None:
    port = free_port()
    with pytest.raises(PrometheusError) as err:
        PrometheusClient(UrlTransport(f"http://127.0.0.1:{port}"), timeout_s=2).query("q", at=1.0)
    assert str(err.value).startswith(f"cannot reach Prometheus at http://127.0.0.1:{port}: ")


def test_a_range_query(prom: tuple[FakePrometheus, str]) -> None:
    fake, url = prom
    fake.answer = (200, {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {}, "values": [[10.0, "1.5"], [12.0, "NaN"], [14.0, "2"]]}]}})
    assert PrometheusClient(UrlTransport(url)).query_range("q", 10.0, 14.0, 2.0) == [(10.0, 1.5), (14.0, 2.0)]
    assert fake.requests[0][0] == "/api/v1/query_range" and fake.requests[0][1]["step"] == "2"


def test_the_in_cluster_service_through_the_kubernetes_api_proxy(prom: tuple[FakePrometheus, str]) -> None:
    fake, url = prom
    fake.answer = (200, vector("7"))
    kubeconfig = {
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": url}}],
        "users": [{"name": "u", "user": {"token": "t0ken"}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
    }
    client = prometheus_client(PromotionConfig(), kubeconfig)
    assert client.where == "service monitoring/kps-prometheus:9090 (Kubernetes API proxy)"
    assert client.query("vector(7)", at=5.0) == 7.0
    path, query, auth = fake.requests[0]
    assert path == "/api/v1/namespaces/monitoring/services/kps-prometheus:9090/proxy/api/v1/query"
    assert query == {"query": "vector(7)", "time": "5.000"} and auth == "Bearer t0ken"
    fake.answer = (503, {"kind": "Status", "message": "no endpoints available for service"})
    with pytest.raises(PrometheusError) as err:
        client.query("vector(7)", at=5.0)
    assert str(err.value).startswith("service monitoring/kps-prometheus:9090 (Kubernetes API proxy) answered "
                                     "HTTP 503")


def test_a_configured_url_needs_no_kubeconfig() -> None:
    config = PromotionConfig.model_validate({"prometheus": {"url": "http://prometheus.internal:9090"}})
    assert prometheus_client(config, None).where == "http://prometheus.internal:9090"
    with pytest.raises(ValueError, match="needs the stack's kubeconfig"):
        prometheus_client(PromotionConfig(), None)


def test_the_local_router_applies_weights_and_refuses_bad_ones() -> None:
    require_tool("haproxy")
    with LocalRouter({"blue": "127.0.0.1:1", "green": "127.0.0.1:2"}, {"blue": 100, "green": 0}) as router:
        applied: list[dict[str, int]] = []
        stack = RouterStack(router, on_applied=applied.append)
        stack.apply({"blue": 90, "green": 10}, message="step 1")
        assert router.weights() == {"blue": 90, "green": 10} and applied == [{"blue": 90, "green": 10}]
        with pytest.raises(ApplyError) as err:
            stack.apply({"blue": 0, "green": 300}, message="bad")
        assert str(err.value) == ("the local router did not take the weights: haproxy refused `set weight llm/green "
                                  "300`: Absolute weight can only be between 0 and 256 inclusive.")
        assert applied == [{"blue": 90, "green": 10}]


def test_a_real_promotion_does_not_start_when_prometheus_does_not_answer(
        tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        prom: tuple[FakePrometheus, str]) -> None:
    """Pulumi stubbed at the Automation API; the API server's proxy answers 503 for the Prometheus Service."""
    from gpufleet.cli import main
    from gpufleet.promote import automation
    from test_promote_command import project, promote

    fake, url = prom
    fake.answer = (503, {"kind": "Status", "message": "no endpoints available for service \"kps-prometheus\""})
    kubeconfig = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
                  "clusters": [{"name": "k", "cluster": {"server": url}}],
                  "users": [{"name": "u", "user": {"token": "t"}}],
                  "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}]}
    applied: list[Any] = []

    class FakePulumiStack:
        def __init__(self, stack_name: str, work_dir: Any, *args: Any, **kwargs: Any) -> None:
            pass

        def outputs(self) -> dict[str, Any]:
            return {"kubeconfig": json.dumps(kubeconfig), "gatewayAddress": "k8s-gw.elb.amazonaws.com"}

        def apply(self, weights: Any, *, message: str) -> None:
            applied.append(weights)

    monkeypatch.setattr(automation, "PulumiStack", FakePulumiStack)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "pulumi").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    assert main(promote(tmp_path)) == 2
    assert capsys.readouterr().err == (
        "gpufleet promote: stack 'prod-us-east-1': gpufleet:promotion.prometheus: service "
        "monitoring/kps-prometheus:9090 (Kubernetes API proxy) answered HTTP 503: no endpoints available for "
        "service \"kps-prometheus\"; the promotion analyses live traffic there and does not start without it\n")
    assert applied == [] and not (tmp_path / "audit.jsonl").exists()
    assert fake.requests[0][0] == "/api/v1/namespaces/monitoring/services/kps-prometheus:9090/proxy/api/v1/query"
