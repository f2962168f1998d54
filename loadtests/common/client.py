"""A lean OpenAI-compatible HTTP client that times every chunk of a response.

Built on geventhttpclient (the library under Locust's FastHttpUser) and used
directly, because FastHttpSession times a streamed request only to its
headers. geventhttpclient sends the request, parses the headers and keeps
connections alive; the body of a stream is read here in large blocks, each
read stamped once and handed whole to the SSE parser (every event of one
read arrived at that read's time). Sockets carry no timeout (that would arm
a timer per `recv`): one watchdog greenlet per process enforces each
request's deadline and stall limit (`common.watchdog`). The client knows
nothing about Locust: it returns a `RequestRecord` and the user class
reports it.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import gevent
from gevent import GreenletExit
from geventhttpclient import HTTPClient
from geventhttpclient._parser import HTTPParseError
from geventhttpclient.response import HTTPConnectionClosed
from msgspec.json import encode as json_bytes

from common.reader import READER
from common.reader import available as reader_available
from common.sse import Parsed, StreamParser, parse_body
from common.timing import CLOCK, Clock
from common.watchdog import WATCHDOG, Expired, RequestDeadline, Watchdog
from common.wire import Exchange, Pool, request_head
from common.workload import RequestPlan
from gpufleet.loadtest.records import Outcome, RequestRecord

MAX_ERROR_BODY = 64 * 1024
BLOCK_SIZE = 64 * 1024  # one recv takes everything that has arrived
DRAIN_S = 1.0  # after [DONE]: how long the chunked terminator may take before the connection is dropped

__all__ = ["LLMClient", "RequestDeadline", "build_record"]


@dataclass(frozen=True)
class RecordMeta:
    """What is known about a request before it is sent."""

    request_id: str
    process: str
    workload: str
    endpoint: str
    stream: bool
    scheduled_at: float
    sent_at: float
    max_tokens: int
    input_tokens_target: int


def _ms(seconds: float) -> float:
    return seconds * 1000.0


def build_record(meta: RecordMeta, sent: float, headers: float | None, end: float, parsed: Parsed,
                 status: int | None) -> RequestRecord:
    """A record from perf_counter readings (seconds) and the parse result."""
    times = parsed.content_times if meta.stream else []
    return RequestRecord(
        request_id=meta.request_id,
        process=meta.process,
        workload=meta.workload,
        endpoint=meta.endpoint,
        stream=meta.stream,
        scheduled_at=meta.scheduled_at,
        sent_at=meta.sent_at,
        outcome=parsed.outcome,
        headers_ms=None if headers is None else _ms(headers - sent),
        ttft_ms=_ms(times[0] - sent) if times else None,
        e2e_ms=_ms(end - sent),
        chunk_gaps_ms=tuple([(b - a) * 1000.0 for a, b in zip(times, times[1:])]),
        prompt_tokens=parsed.prompt_tokens,
        output_tokens=parsed.output_tokens,
        max_tokens=meta.max_tokens,
        input_tokens_target=meta.input_tokens_target,
        status=status,
        error=parsed.error,
        content_chars=parsed.content_chars,
    )


class LLMClient:
    """Sends request plans to one base URL over a pool of keep-alive connections."""

    def __init__(self, base_url: str, *, concurrency: int = 1, connect_timeout: float = 10.0,
                 stall_timeout: float = 30.0, request_timeout: float = 120.0, api_key: str | None = None,
                 clock: Clock = CLOCK, watchdog: Watchdog = WATCHDOG, pooled: bool | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"target URL must be http(s)://host[:port][/prefix], got {base_url!r}")
        self.prefix = parts.path.rstrip("/")
        self.request_timeout = request_timeout
        self.stall_timeout = stall_timeout
        self.clock = clock
        self.watchdog = watchdog
        can_pool = parts.scheme == "http" and reader_available()
        if pooled and not can_pool:
            raise ValueError("the pooled reader needs plain http on a POSIX system")
        self.reader = READER if can_pool and pooled is not False else None
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._headers = headers
        self._host = parts.netloc
        self._http = HTTPClient.from_url(
            f"{parts.scheme}://{parts.netloc}/",
            concurrency=concurrency,
            connection_timeout=connect_timeout,
            network_timeout=None,  # the watchdog enforces limits; no timer per recv
            block_size=BLOCK_SIZE,
            headers=headers,
        )
        # Plain HTTP: pre-formatted requests on our own keep-alive pool, responses read in the event
        # loop's own callbacks (common.reader). TLS: geventhttpclient end to end.
        self._pool = Pool(parts.hostname, parts.port or 80, connect_timeout) if self.reader is not None else None

    def close(self) -> None:
        self._http.close()
        if self._pool is not None:
            self._pool.close()

    def get_json(self, path: str) -> object:
        """GET a JSON document (e.g. /v1/models); raises on any failure."""
        with gevent.Timeout(self.request_timeout, RequestDeadline(f"GET {path} timed out")):
            response = self._http.get(self.prefix + path)
            try:
                body = response.read()
            finally:
                response.release()
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered HTTP {response.status_code}")
        return json.loads(body)

    def send(self, plan: RequestPlan, *, request_id: str, process: str, scheduled_at: float | None = None,
             on_cancel: Callable[[RequestRecord], None] | None = None) -> RequestRecord:
        """Send one plan and return its record; never raises for a failed request.

        If the greenlet is killed mid-request (the test stopped), the record
        of the cancelled request goes to `on_cancel` and GreenletExit is
        re-raised, so the request is still accounted for.
        """
        body = json_bytes(plan.body)  # UTF-8, compact: json.dumps took ~8 us per request here
        headers = {"x-request-id": request_id, "Accept": "text/event-stream" if plan.stream else "application/json"}
        sent = time.perf_counter()
        sent_at = self.clock.at(sent)
        meta = RecordMeta(request_id, process, plan.workload, plan.endpoint, plan.stream,
                          sent_at if scheduled_at is None else scheduled_at, sent_at, plan.max_tokens,
                          plan.input_tokens)
        progress = _Progress()
        end: float | None = None
        ticket = self.watchdog.watch(self.request_timeout, self.stall_timeout)
        progress.ticket = ticket
        try:
            parsed, end = self._exchange(plan, body, headers, progress)
        except GreenletExit:
            if on_cancel is not None:
                parsed = Parsed(Outcome.CANCELLED, progress.content_times, error="stopped by the load test")
                on_cancel(build_record(meta, sent, progress.headers, time.perf_counter(), parsed, progress.status))
            raise
        except (RequestDeadline, socket.timeout, TimeoutError):
            parsed = Parsed(Outcome.TIMEOUT, progress.content_times,
                            error=f"no complete response within the time limit ({progress.where()})")
        except (HTTPParseError, HTTPConnectionClosed, OSError) as exc:
            kind = Outcome.TRUNCATED if progress.headers is not None else Outcome.CONNECTION_ERROR
            parsed = Parsed(kind, progress.content_times, error=f"{type(exc).__name__}: {exc}"[:200])
        except UnicodeDecodeError as exc:
            parsed = Parsed(Outcome.MALFORMED, progress.content_times, error=f"chunk is not UTF-8: {exc}"[:200])
        finally:
            self.watchdog.release(ticket)
        return build_record(meta, sent, progress.headers, end if end is not None else time.perf_counter(), parsed,
                            progress.status)

    def _exchange(self, plan: RequestPlan, body: bytes, headers: dict[str, str], progress: _Progress
                  ) -> tuple[Parsed, float]:
        """Send, read and parse; returns the parse result and when the response was complete."""
        if self._pool is not None:
            return self._exchange_pooled(plan, body, headers, progress)
        response = self._http.request("POST", self.prefix + plan.path, body=body, headers=headers)
        progress.headers = time.perf_counter()
        progress.status = response.status_code
        try:
            if response.status_code >= 400:
                return parse_body(plan.endpoint, response.status_code, response.read(MAX_ERROR_BODY)), \
                    time.perf_counter()
            if not plan.stream or "json" in (response.get("content-type") or ""):  # a JSON body, e.g. an error
                data = response.read()
                return parse_body(plan.endpoint, response.status_code, data), time.perf_counter()
            return self._read_stream(response, StreamParser(plan.endpoint), progress)
        finally:
            response.release()

    def _exchange_pooled(self, plan: RequestPlan, body: bytes, headers: dict[str, str], progress: _Progress
                         ) -> tuple[Parsed, float]:
        """The hot path: send on a pooled connection, let the reader read the response in loop callbacks."""
        payload = request_head("POST", self.prefix + plan.path, self._host, {**self._headers, **headers},
                               len(body)) + body
        for attempt in (0, 1):
            conn = self._pool.get()
            sse = StreamParser(plan.endpoint) if plan.stream else None
            if sse is not None:
                progress.content_times = sse.content_times
            exchange = Exchange(conn.fd, sse, progress.ticket, DRAIN_S)
            keep = False
            try:
                conn.send(payload)
                self.reader.read(exchange)
                keep = exchange.keep_alive
            except (OSError, HTTPParseError, Expired):
                if attempt == 0 and conn.reused and not exchange.got_bytes:
                    continue  # the server had closed this idle keep-alive connection: once more, fresh
                if sse is None or not sse.done:
                    raise
                # [DONE] arrived; only the chunked terminator is missing: the connection is dropped
            finally:
                progress.headers, progress.status = exchange.headers_at, exchange.status
                if keep:
                    self._pool.put(conn)
                else:
                    conn.close()
            break
        status = exchange.status or 0
        if status >= 400 or sse is None:
            return parse_body(plan.endpoint, status, exchange.body()), exchange.end_at or time.perf_counter()
        end = sse.done_at if sse.done_at is not None else time.perf_counter()
        return sse.end(end), end

    def _read_stream(self, response, parser: StreamParser, progress: _Progress) -> tuple[Parsed, float]:
        """TLS path: feed what came with the headers, then read the rest in this greenlet."""
        progress.content_times = parser.content_times
        body = response._body_buffer  # geventhttpclient's parser appends the de-chunked body here
        if body:
            parser.feed(bytes(body), progress.headers)
            del body[:]
        if not parser.finished and not response.message_complete:
            try:
                _read_here(response, parser, progress.ticket)
            except Exception:
                if not parser.done:
                    raise
                # [DONE] arrived; only the chunked terminator is missing: the connection is dropped
        end = parser.done_at if parser.done_at is not None else time.perf_counter()
        return parser.end(end), end


def _read_here(response, parser: StreamParser, ticket) -> None:
    """Large reads stamped once, in the request's own greenlet (TLS)."""
    body = response._body_buffer
    recv = response._sock.recv
    perf = time.perf_counter
    while not response.message_complete:
        data = recv(BLOCK_SIZE)
        now = perf()
        ticket.last = now
        response.feed(data)  # b"" (peer closed) raises HTTPParseError for an incomplete message
        if body:
            parser.feed(bytes(body), now)
            del body[:]
        if parser.finished:
            if not parser.done:
                return
            ticket.stall_s = min(ticket.stall_s, DRAIN_S)


class _Progress:
    """How far a request got, for the record of a request that did not finish."""

    def __init__(self) -> None:
        self.headers: float | None = None
        self.status: int | None = None
        self.content_times: list[float] = []
        self.ticket = None

    def where(self) -> str:
        if self.headers is None:
            return "no response headers"
        if not self.content_times:
            return "headers but no content"
        return f"{len(self.content_times)} content chunks"
