"""The HTTP client against scripted raw-socket servers: timings and every failure kind.

Each scripted server writes exactly the bytes of one failure (or success)
so the client's classification is tested over a real socket, and the
resulting records are fed to the statistics to show failures never enter
latency figures.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

import gevent
import gevent.server
import pytest

from common.client import LLMClient
from common.workload import RequestPlan
from gpufleet.loadtest.records import Outcome  # noqa: E402
from gpufleet.loadtest.stats import compute_records  # noqa: E402

USAGE = {"prompt_tokens": 20, "completion_tokens": 4, "total_tokens": 24}
SSE_HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def plan(stream: bool = True, endpoint: str = "chat") -> RequestPlan:
    body = {"model": "m", "max_tokens": 4, "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        body.update(stream=True, stream_options={"include_usage": True})
    return RequestPlan("short_chat", endpoint, stream, "/v1/chat/completions", body, 20, 4)


def event(obj: object) -> bytes:
    data = f"data: {obj if isinstance(obj, str) else json.dumps(obj)}\n\n".encode()
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def content(text: str) -> bytes:
    return event({"choices": [{"index": 0, "delta": {"content": text}}]})


USAGE_EVENT = event({"choices": [], "usage": USAGE})
DONE = event("[DONE]")
END = b"0\r\n\r\n"


def read_request(sock: socket.socket) -> dict:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length"))
    while len(body) < length:
        body += sock.recv(65536)
    return {"head": head.decode("latin-1"), "body": json.loads(body)}


class Scripted:
    """A one-response-per-connection server whose handler writes raw bytes."""

    def __init__(self, script: Callable[[socket.socket], None]) -> None:
        self.requests: list[dict] = []

        def handle(sock: socket.socket, _addr) -> None:
            self.requests.append(read_request(sock))
            script(sock)
            sock.close()

        self.server = gevent.server.StreamServer(("127.0.0.1", 0), handle)

    def __enter__(self) -> str:
        self.server.start()
        return f"http://127.0.0.1:{self.server.server_port}"

    def __exit__(self, *exc) -> None:
        self.server.stop(timeout=1)


def stream_ok(sock: socket.socket) -> None:
    sock.sendall(SSE_HEADERS)
    gevent.sleep(0.06)
    for word in ("Hel", "lo", " wor", "ld"):
        sock.sendall(content(word))
        gevent.sleep(0.02)
    sock.sendall(USAGE_EVENT + DONE + END)


@pytest.fixture(params=["pooled", "geventhttpclient"])
def path(request):
    """Both read paths: the event-loop reader over our pool, and geventhttpclient end to end (TLS's)."""
    return request.param


def send(script, *, stream: bool = True, stall: float = 5.0, deadline: float = 10.0, pooled: bool = True):
    with Scripted(script) as url:
        client = LLMClient(url, stall_timeout=stall, request_timeout=deadline, pooled=pooled)
        try:
            return client.send(plan(stream), request_id="req-1", process="local")
        finally:
            client.close()


def test_a_streamed_response_is_timed_chunk_by_chunk():
    with Scripted(stream_ok) as url:
        client = LLMClient(url + "/", api_key="sk-test")
        record = client.send(plan(), request_id="abc-7", process="w0", scheduled_at=None)
        client.close()
    assert record.outcome is Outcome.OK and record.status == 200
    assert (record.prompt_tokens, record.output_tokens, record.max_tokens, record.input_tokens_target) == (20, 4, 4, 20)
    assert 55 <= record.ttft_ms < 250
    assert len(record.chunk_gaps_ms) == 3 and all(15 <= g < 150 for g in record.chunk_gaps_ms)
    assert record.e2e_ms >= record.ttft_ms + sum(record.chunk_gaps_ms) - 1
    assert record.headers_ms < record.ttft_ms
    assert record.scheduled_at == record.sent_at and record.tpot_ms == pytest.approx(
        (record.e2e_ms - record.ttft_ms) / 3)


def test_the_request_carries_the_id_the_key_and_the_body():
    server = Scripted(stream_ok)
    with server as url:
        client = LLMClient(url, api_key="sk-test")
        client.send(plan(), request_id="abc-7", process="w0")
        client.close()
    head = server.requests[0]["head"].lower()
    assert "post /v1/chat/completions http/1.1" in head
    assert "x-request-id: abc-7" in head and "authorization: bearer sk-test" in head
    assert server.requests[0]["body"]["stream_options"] == {"include_usage": True}


def test_a_base_url_prefix_is_kept():
    server = Scripted(stream_ok)
    with server as url:
        client = LLMClient(url + "/proxy/")
        assert client.send(plan(), request_id="r", process="local").ok
        client.close()
    assert server.requests[0]["head"].startswith("POST /proxy/v1/chat/completions ")


def test_a_streamed_response_on_either_path(path):
    record = send(stream_ok, pooled=path == "pooled")
    assert record.outcome is Outcome.OK and len(record.chunk_gaps_ms) == 3 and 55 <= record.ttft_ms < 250


def test_keep_alive_reuses_one_connection_and_retries_a_closed_one():
    connections = []

    def handle(sock, _addr):
        connections.append(sock)
        for _ in range(2):  # two responses on this connection, then it is closed (as an idle timeout would)
            head = sock.recv(65536)
            if not head:
                break
            sock.sendall(SSE_HEADERS + content("a") + USAGE_EVENT + DONE + END)
        sock.close()

    server = gevent.server.StreamServer(("127.0.0.1", 0), handle)
    server.start()
    try:
        client = LLMClient(f"http://127.0.0.1:{server.server_port}")
        records = [client.send(plan(), request_id=f"r{i}", process="local") for i in range(3)]
        client.close()
    finally:
        server.stop(timeout=1)
    assert [r.outcome for r in records] == [Outcome.OK] * 3
    assert len(connections) == 2  # the third request found its connection closed and retried on a fresh one


def test_a_non_streamed_response():
    body = json.dumps({"choices": [{"index": 0, "message": {"content": "Hi"}}], "usage": USAGE}).encode()

    def script(sock):
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
        sock.sendall(body)

    record = send(script, stream=False)
    assert (record.outcome, record.output_tokens, record.ttft_ms, record.chunk_gaps_ms) == (Outcome.OK, 4, None, ())


def http_error(sock):
    body = b'{"error": {"message": "overloaded", "code": 503}}'
    sock.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def disconnect(sock):
    sock.sendall(SSE_HEADERS + content("a") + content("b"))
    gevent.sleep(0.02)  # then the peer goes away mid-stream


def no_done(sock):
    sock.sendall(SSE_HEADERS + content("a") + USAGE_EVENT + END)


def no_usage(sock):
    sock.sendall(SSE_HEADERS + content("a") + DONE + END)


def malformed(sock):
    sock.sendall(SSE_HEADERS + content("a") + event("{not json") + content("b") + USAGE_EVENT + DONE + END)


def error_event(sock):
    sock.sendall(SSE_HEADERS + content("a") + event({"error": {"message": "kv cache full"}}))


def stall(sock):
    sock.sendall(SSE_HEADERS + content("a"))
    gevent.sleep(2.0)


def empty(sock):
    sock.sendall(SSE_HEADERS + USAGE_EVENT + DONE + END)


def not_utf8(sock):
    data = b"data: \xff\xfe\n\n"
    sock.sendall(SSE_HEADERS + f"{len(data):x}\r\n".encode() + data + b"\r\n")


@pytest.mark.parametrize(
    ("script", "outcome", "status", "error"),
    [
        (http_error, Outcome.HTTP_ERROR, 503, 'HTTP 503: {"error": {"message": "overloaded", "code": 503}}'),
        (disconnect, Outcome.TRUNCATED, 200, "HTTPParseError: Incomplete response."),
        (no_done, Outcome.TRUNCATED, 200, "stream ended without [DONE]"),
        (no_usage, Outcome.MISSING_USAGE, 200, "stream carried no usage object"),
        (malformed, Outcome.MALFORMED, 200, "chunk is not JSON: '{not json'"),
        (error_event, Outcome.HTTP_ERROR, 200, "error event: kv cache full"),
        (stall, Outcome.TIMEOUT, 200, "no complete response within the time limit (1 content chunks)"),
        (empty, Outcome.NO_CONTENT, 200, "stream carried no text"),
        (not_utf8, Outcome.MALFORMED, 200, None),
    ],
    ids=lambda v: getattr(v, "__name__", None) if callable(v) else None,
)
def test_every_failure_kind_over_a_real_socket(script, outcome, status, error, path):
    record = send(script, stall=0.5, pooled=path == "pooled")
    assert (record.outcome, record.status) == (outcome, status)
    if error is not None:
        assert record.error == error
    assert record.failed and not record.ok and record.tpot_ms is None


def test_the_whole_request_deadline_is_a_timeout():
    def trickle(sock):
        sock.sendall(SSE_HEADERS)
        for _ in range(20):
            sock.sendall(content("x"))
            gevent.sleep(0.05)

    record = send(trickle, stall=5.0, deadline=0.3)
    assert record.outcome is Outcome.TIMEOUT and 300 <= record.e2e_ms < 600
    assert record.error.startswith("no complete response within the time limit (")


def test_no_listener_is_a_connection_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = LLMClient(f"http://127.0.0.1:{port}", connect_timeout=1.0)
    record = client.send(plan(), request_id="r", process="local")
    assert (record.outcome, record.status, record.headers_ms) == (Outcome.CONNECTION_ERROR, None, None)
    assert record.error.startswith("ConnectionRefusedError")


def test_a_killed_request_is_recorded_as_cancelled():
    cancelled = []
    with Scripted(stall) as url:
        client = LLMClient(url, stall_timeout=5.0)
        greenlet = gevent.spawn(client.send, plan(), request_id="r", process="local", on_cancel=cancelled.append)
        gevent.sleep(0.2)
        greenlet.kill()
        client.close()
    assert [r.outcome for r in cancelled] == [Outcome.CANCELLED]
    assert cancelled[0].error == "stopped by the load test" and cancelled[0].ttft_ms is not None


def test_failure_records_never_reach_the_latency_statistics():
    records = [send(stream_ok)] + [send(s, stall=0.5) for s in (http_error, disconnect, malformed, no_usage, stall)]
    window = (min(r.scheduled_at for r in records) - 1, max(r.scheduled_at for r in records) + 1)
    stats = compute_records(records, window)
    assert (stats.requests, stats.ok, stats.errors) == (6, 1, 5)
    assert stats.ttft_ms.count == 1 and stats.ttft_ms.p99 == records[0].ttft_ms
    assert stats.e2e_ms.count == 1 and stats.e2e_ms.max == records[0].e2e_ms
    assert stats.itl_ms.count == 3 and stats.output_tokens == 4


def test_the_client_rejects_a_non_http_url():
    with pytest.raises(ValueError, match=r"^target URL must be http\(s\)://host\[:port\]\[/prefix\], got 'ftp://x'$"):
        LLMClient("ftp://x")


def test_the_pooled_reader_is_refused_for_tls():
    with pytest.raises(ValueError, match=r"^the pooled reader needs plain http on a POSIX system$"):
        LLMClient("https://127.0.0.1:9", pooled=True)
    assert LLMClient("https://127.0.0.1:9").reader is None  # TLS: geventhttpclient end to end
