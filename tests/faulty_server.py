"""A deliberately broken OpenAI-compatible server, for the gate's fault tests.

The simulator (gpufleet.simserver) injects faults a real vLLM can have; these
are servers that misbehave in ways the simulator never does: every request
refused at once, a 200 whose body is an error, empty streams, and a `usage`
that claims far more tokens than were streamed. Standard library only, bound
to 127.0.0.1 on a free port, one thread per connection.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("rate-limited", "rate-limited-everything", "error-body-200", "empty-stream", "usage-lies")


def _chunk(text: str) -> bytes:
    obj = {"id": "x", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}}]}
    return f"data: {json.dumps(obj)}\n\n".encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    mode = "rate-limited"

    def log_message(self, *args: object) -> None:  # quiet
        return

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.mode == "rate-limited-everything":
            return self._send(429, b'{"error": {"message": "rate limit exceeded", "code": 429}}')
        self._send(200, json.dumps({"object": "list", "data": [{"id": "m", "object": "model"}]}).encode())

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        error = {"error": {"message": "rate limit exceeded", "type": "RateLimitError", "code": 429}}
        if self.mode in ("rate-limited", "rate-limited-everything"):
            self._send(429, json.dumps(error).encode())
        elif self.mode == "error-body-200":
            self._send(200, json.dumps(error).encode())
        elif self.mode == "empty-stream":
            self._send(200, b"data: [DONE]\n\n", "text/event-stream")
        else:  # usage-lies: two short chunks, usage claims 512 tokens
            usage = {"id": "x", "choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": 512,
                                                         "total_tokens": 532}}
            body = _chunk("Hello") + _chunk(" world.") + f"data: {json.dumps(usage)}\n\n".encode() + b"data: [DONE]\n\n"
            self._send(200, body, "text/event-stream")


class FaultyServer:
    """`with FaultyServer("rate-limited") as url: ...`"""

    def __init__(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        handler = type("Handler", (_Handler,), {"mode": mode})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
