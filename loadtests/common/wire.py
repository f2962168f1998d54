"""HTTP/1.1 on plain TCP for the streaming hot path: keep-alive pool, request bytes, response exchange.

geventhttpclient's `HTTPClient.request` costs a header dictionary, a
request build and a blocking header read (a failed `recv`, a hub switch)
per request. Here the request is pre-formatted bytes sent on a pooled
gevent socket, and the whole response, headers included, is read by the
process's `StreamReader` and parsed by geventhttpclient's own llhttp
parser (`HTTPResponse`). An `Exchange` is what the reader feeds: it stamps
the headers and every body read with the read's time and passes the body
of a successful stream to the SSE parser in bulk.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import gevent.socket
from geventhttpclient._parser import HTTPResponseParser
from geventhttpclient.response import HTTPConnectionClosed, HTTPResponse

from common.sse import StreamParser

MAX_ERROR_BODY = 64 * 1024


def request_head(method: str, path: str, host: str, headers: Mapping[str, str], length: int) -> bytes:
    """Request line and headers (Host and Content-Length added), ready to send before the body."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class Connection:
    """One keep-alive TCP connection; `reused` says whether it served a request before."""

    __slots__ = ("sock", "fd", "reused")

    def __init__(self, sock) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.reused = False

    def send(self, payload: bytes) -> None:
        """Write the request: one `write` takes the usual request whole (the socket buffer has room).

        gevent's `sendall` asks the kernel for the send buffer size (`getsockopt`) and goes through
        its timeout machinery on every call; it only finishes what one write could not."""
        try:
            sent = os.write(self.fd, payload)
        except BlockingIOError:
            sent = 0
        if sent < len(payload):
            self.sock.sendall(memoryview(payload)[sent:])

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class Pool:
    """Idle keep-alive connections to one host:port (LIFO: the warmest first)."""

    def __init__(self, host: str, port: int, connect_timeout: float) -> None:
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self._idle: list[Connection] = []

    def get(self) -> Connection:
        if self._idle:
            return self._idle.pop()
        sock = gevent.socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        sock.settimeout(None)  # no timer per recv/send: the watchdog enforces limits
        sock.setsockopt(gevent.socket.IPPROTO_TCP, gevent.socket.TCP_NODELAY, 1)
        return Connection(sock)

    def put(self, conn: Connection) -> None:
        conn.reused = True
        self._idle.append(conn)

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


class StreamingResponse(HTTPResponse):
    """geventhttpclient's response parser, minus a Python layer per read.

    `feed` is the C parser's own: a response to POST never takes HTTPResponse's
    HEAD workaround. Once a stream's headers are in, the exchange points
    `_on_body` (which llhttp calls with every de-chunked body piece) straight
    at the SSE parser, so no piece is appended to a buffer and copied out again.
    """

    feed = HTTPResponseParser.feed


class Exchange:
    """One response as the reader sees it. `on_data` returns True when the reader is done with it."""

    __slots__ = ("fd", "http", "sse", "ticket", "drain_s", "headers_at", "end_at", "status", "got_bytes",
                 "event", "error", "streaming")

    def __init__(self, fd: int, sse: StreamParser | None, ticket, drain_s: float) -> None:
        self.fd = fd
        self.http = StreamingResponse(method="POST")
        self.sse = sse  # None: keep the body (non-streamed response)
        self.ticket = ticket
        self.drain_s = drain_s
        self.headers_at: float | None = None
        self.end_at: float | None = None  # the read that completed the message
        self.status: int | None = None
        self.got_bytes = False
        self.event = None  # set by the reader
        self.error: BaseException | None = None
        self.streaming = False  # a 2xx stream whose body goes straight to the SSE parser

    def on_data(self, data: bytes, now: float) -> bool:
        self.ticket.last = now
        http = self.http
        if self.streaming:  # the hot path: one call per chunk
            sse = self.sse
            sse.at = now
            http.feed(data)  # b"" (peer closed) raises HTTPParseError for an incomplete message
            if not sse.finished and not http.message_complete:
                return False
            return self._stream_state(now)
        if not data and not self.got_bytes:
            raise HTTPConnectionClosed("connection closed.")
        self.got_bytes = True
        http.feed(data)  # b"" (peer closed) raises HTTPParseError for an incomplete message
        if self.headers_at is None:
            if not http.headers_complete or http.get_code() < 200:
                return False
            self.headers_at = now
            self.status = http.get_code()
            if self.status >= 400:
                self.sse = None
        body = http._body_buffer
        sse = self.sse
        if sse is not None:
            if body:
                sse.feed(bytes(body), now)
                del body[:]
            http._on_body = sse.body  # the stream's body goes straight to the SSE parser
            self.streaming = True
            return self._stream_state(now)
        if self.status is not None and self.status >= 400 and len(body) >= MAX_ERROR_BODY:
            self.end_at = now
            return True
        if http.message_complete:
            self.end_at = now
            return True
        return False

    def _stream_state(self, now: float) -> bool:
        """After a streamed read: True when the reader is done with this response."""
        if self.sse.finished and not self.http.message_complete:
            if not self.sse.done:
                return True  # a decided failure: stop reading, the connection is dropped
            # [DONE] came: the chunked terminator should follow at once, or the connection is dropped
            self.ticket.stall_s = min(self.ticket.stall_s, self.drain_s)
        if self.http.message_complete:
            self.end_at = now
            return True
        return False

    @property
    def keep_alive(self) -> bool:
        http = self.http
        return http.message_complete and not http.parser_failed() and http.should_keep_alive()

    def body(self) -> bytes:
        return bytes(self.http._body_buffer[:MAX_ERROR_BODY] if self.status and self.status >= 400
                     else self.http._body_buffer)
