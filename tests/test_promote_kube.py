"""Rollout checks: the pure judgement over client objects, and the adapter against a local API server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from kubernetes import client

from gpufleet.promote.kube import KubeRolloutCheck, SkippedRolloutCheck, label_selector, rollout_status

SELECTOR = {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": "green"}


def deployment_json(*, generation: int = 4, observed: int = 4, replicas: int = 2, updated: int = 2,
                    available: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "vllm-green", "namespace": "llm-green", "generation": generation},
        "spec": {"replicas": replicas, "selector": {"matchLabels": SELECTOR},
                 "template": {"metadata": {"labels": SELECTOR}, "spec": {"containers": [{"name": "vllm", "image": "v"}]}}},
        "status": {"observedGeneration": observed, "replicas": replicas, "updatedReplicas": updated,
                   "availableReplicas": available, "readyReplicas": available},
    }


def pod_json(name: str, *, ready: bool = True, terminating: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "llm-green", "labels": SELECTOR}
    if terminating:
        meta["deletionTimestamp"] = "2026-03-01T09:00:00Z"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def as_model(data: dict[str, Any], klass: str) -> Any:
    """Deserialize like the client does for an API response."""
    return client.ApiClient().deserialize(json.dumps(data), klass, "application/json")


def judge(deployment: dict[str, Any], pods: list[dict[str, Any]]):
    return rollout_status(as_model(deployment, "V1Deployment"), [as_model(p, "V1Pod") for p in pods])


def test_fully_rolled_out() -> None:
    status = judge(deployment_json(), [pod_json("vllm-green-a"), pod_json("vllm-green-b")])
    assert status.ready and status.reason == "llm-green/vllm-green: 2/2 replicas updated, available and ready"
    assert status.details == {"deployment": "llm-green/vllm-green", "generation": 4, "observed_generation": 4,
                              "replicas": 2, "updated_replicas": 2, "available_replicas": 2, "pods": 2}


@pytest.mark.parametrize("deployment, pods, why", [
    (deployment_json(observed=3), [pod_json("a"), pod_json("b")],
     "observedGeneration 3 < generation 4 (controller has not seen the latest spec)"),
    (deployment_json(updated=1, available=1), [pod_json("a"), pod_json("b")], "replicas 2, updated 1, available 1"),
    (deployment_json(available=1), [pod_json("a"), pod_json("b", ready=False)],
     "replicas 2, updated 2, available 1; pods not ready: b"),
    (deployment_json(replicas=0, updated=0, available=0), [], "spec.replicas is 0"),
    (deployment_json(), [pod_json("a"), pod_json("b"), pod_json("old", terminating=True)], "pods terminating: old"),
    (deployment_json(), [pod_json("a")], "1 pods for 2 replicas"),
])
def test_not_rolled_out(deployment: dict[str, Any], pods: list[dict[str, Any]], why: str) -> None:
    status = judge(deployment, pods)
    assert not status.ready
    assert status.reason == f"llm-green/vllm-green not fully rolled out: {why}"


def test_label_selector_and_skipped_check() -> None:
    assert label_selector(SELECTOR) == "app.kubernetes.io/instance=green,app.kubernetes.io/name=vllm"
    skipped = SkippedRolloutCheck("dry run against the local simulator").check("green")
    assert (skipped.ready, skipped.skipped, skipped.reason) == (True, True, "dry run against the local simulator")


# ---------------------------------------------------------------- the adapter against an API server on 127.0.0.1


class FakeApiServer:
    """Answers the two reads the check makes; records paths, queries and auth headers."""

    def __init__(self, deployment: dict[str, Any] | None, pods: list[dict[str, Any]]) -> None:
        self.requests: list[tuple[str, dict[str, list[str]], str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                parts = urlsplit(self.path)
                outer.requests.append((parts.path, parse_qs(parts.query), self.headers.get("Authorization", "")))
                if parts.path == "/apis/apps/v1/namespaces/llm-green/deployments/vllm-green" and deployment:
                    self._send(200, deployment)
                elif parts.path == "/api/v1/namespaces/llm-green/pods":
                    self._send(200, {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": pods})
                else:
                    self._send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                                     "code": 404, "message": "not found"})

            def _send(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "FakeApiServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def kubeconfig(server: str) -> dict[str, Any]:
    """What the stack output `kubeconfig` holds, parsed."""
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": "stack",
        "clusters": [{"name": "stack", "cluster": {"server": server}}],
        "contexts": [{"name": "stack", "context": {"cluster": "stack", "user": "stack"}}],
        "users": [{"name": "stack", "user": {"token": "stack-output-token"}}],
    }


@pytest.fixture
def no_ambient_kubeconfig(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[None]:
    bogus = tmp_path / "ambient-kubeconfig"
    bogus.write_text("this is not the kubeconfig to use", encoding="utf-8")
    monkeypatch.setenv("KUBECONFIG", str(bogus))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    yield


def test_adapter_reads_the_deployment_and_its_pods_with_the_stack_kubeconfig(no_ambient_kubeconfig: None) -> None:
    with FakeApiServer(deployment_json(), [pod_json("vllm-green-a"), pod_json("vllm-green-b")]) as api:
        status = KubeRolloutCheck(kubeconfig(api.url)).check("green")
    assert status.ready, status.reason
    assert [(path, query.get("labelSelector"), auth) for path, query, auth in api.requests] == [
        ("/apis/apps/v1/namespaces/llm-green/deployments/vllm-green", None, "Bearer stack-output-token"),
        ("/api/v1/namespaces/llm-green/pods", ["app.kubernetes.io/instance=green,app.kubernetes.io/name=vllm"],
         "Bearer stack-output-token"),
    ]


def test_adapter_reports_an_unreadable_deployment_as_not_ready(no_ambient_kubeconfig: None) -> None:
    with FakeApiServer(None, []) as api:
        status = KubeRolloutCheck(kubeconfig(api.url)).check("green")
    assert not status.ready
    assert status.reason == "cannot read llm-green/vllm-green: 404 Not Found"


def test_adapter_does_not_touch_the_default_client_configuration(no_ambient_kubeconfig: None) -> None:
    before = client.Configuration.get_default_copy().host
    with FakeApiServer(deployment_json(), [pod_json("a"), pod_json("b")]) as api:
        KubeRolloutCheck(kubeconfig(api.url)).check("green")
    assert client.Configuration.get_default_copy().host == before


def test_timestamps_in_pods_parse(no_ambient_kubeconfig: None) -> None:
    pod = as_model(pod_json("old", terminating=True), "V1Pod")
    assert pod.metadata.deletion_timestamp == datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
