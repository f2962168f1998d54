"""Fail fast: a dead, wrong or non-streaming target exits 2 in one line within seconds."""

from __future__ import annotations

import http.server
import json
import threading
import time

import pytest

from gpufleet.cli import main
from gpufleet.simserver.launch import LocalServer
from system_tools import free_port


def run_cli(capsys, *args: str) -> tuple[int, str, str, float]:
    started = time.monotonic()
    code = main(["loadtest", *args, "--quiet"])
    out, err = capsys.readouterr()
    return code, out, err, time.monotonic() - started


def test_a_dead_target_fails_in_seconds(capsys):
    port = free_port()
    code, out, err, took = run_cli(capsys, "--host", f"http://127.0.0.1:{port}")
    assert (code, out) == (2, "") and took < 10
    assert err == (f"error: target http://127.0.0.1:{port} is not usable: GET /v1/models failed "
                   "(ConnectionRefusedError: [Errno 111] Connection refused)\n")


class _NoUsage(http.server.BaseHTTPRequestHandler):
    """Lists a model and streams, but never sends usage (stream_options ignored)."""

    def do_GET(self):
        body = json.dumps({"object": "list", "data": [{"id": "m"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.write(b'data: {"choices": [{"index": 0, "delta": {"content": "hi"}}]}\n\ndata: [DONE]\n\n')
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def no_usage_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NoUsage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_stream_without_usage_fails_fast(capsys, no_usage_server):
    code, _, err, took = run_cli(capsys, "--host", no_usage_server)
    assert code == 2 and took < 10
    assert err == (f"error: target {no_usage_server} is not usable: a streamed POST /v1/chat/completions ended "
                   "without a usage object (stream_options.include_usage)\n")


def test_a_model_the_target_does_not_serve_fails_fast(capsys, no_usage_server):
    code, _, err, _ = run_cli(capsys, "--host", no_usage_server, "--model", "other")
    assert code == 2 and err == f"error: target {no_usage_server} does not serve model 'other'; it serves: m\n"


def test_a_healthy_target_passes_the_check():
    from gpufleet.loadtest.preflight import preflight

    with LocalServer(ttft_ms=5, itl_ms=1, seed=1) as server:
        assert preflight(server.url, None, "chat") == server.model
        assert preflight(server.url, server.model, "completions") == server.model


@pytest.mark.parametrize("fault", [{"error_rate": 1.0}, {"disconnect_rate": 1.0}, {"malformed_rate": 1.0}],
                         ids=["5xx", "cut-off stream", "malformed chunk"])
def test_a_failing_but_present_server_is_measured_not_refused(fault):
    from gpufleet.loadtest.preflight import check_stream

    with LocalServer(ttft_ms=5, itl_ms=1, seed=1, **fault) as server:
        check_stream(server.url, server.model, "chat")  # the load test will fail it


class _NotStreaming(_NoUsage):
    """Answers the streamed request with one plain JSON body."""

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b'{"choices": [{"index": 0, "message": {"content": "hi"}}]}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_a_non_streaming_target_fails_fast(capsys):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotStreaming)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        code, _, err, took = run_cli(capsys, "--host", url)
    finally:
        server.shutdown()
        server.server_close()
    assert code == 2 and took < 10
    assert err == (f"error: target {url} is not usable: a streamed POST /v1/chat/completions returned no "
                   "server-sent events (not a streaming endpoint)\n")
