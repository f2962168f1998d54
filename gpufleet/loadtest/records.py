"""The raw per-request record: what one request did, as the client saw it.

Every statistic is computed from these records, never from Locust's bucketed
histograms, so the record keeps raw timings. It lives in the installed
package (not in `loadtests/`) because the statistics, the gate and the CSV
writer read it without importing Locust; the Locust scenarios import it from
here. Records cross process boundaries (Locust worker -> master -> file) as
plain lists in `FIELDS` order, which msgpack and JSON both carry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """How a request ended. Only `OK` records enter latency statistics."""

    OK = "ok"
    HTTP_ERROR = "http_error"  # status >= 400, or an error object inside the stream
    CONNECTION_ERROR = "connection_error"  # refused/reset before a response started
    TIMEOUT = "timeout"  # request deadline or a stalled read
    TRUNCATED = "truncated"  # the stream ended (or the peer hung up) before [DONE]
    MISSING_USAGE = "missing_usage"  # complete response without a usage object
    MALFORMED = "malformed"  # a chunk or body that is not the expected JSON
    NO_CONTENT = "no_content"  # a well-formed stream that carried no generated text
    USAGE_MISMATCH = "usage_mismatch"  # usage claims tokens the streamed text cannot hold (gpufleet.loadtest.usage)
    CANCELLED = "cancelled"  # the load test itself stopped the request


FAILURE_OUTCOMES: frozenset[Outcome] = frozenset(Outcome) - {Outcome.OK, Outcome.CANCELLED}


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request. Times: epoch seconds for instants, milliseconds for durations."""

    request_id: str
    process: str  # which load-generator process produced it, e.g. "local" or "w1"
    workload: str
    endpoint: str  # "chat" (/v1/chat/completions) or "completions" (/v1/completions)
    stream: bool
    scheduled_at: float  # when the load profile wanted it sent (closed loop: == sent_at)
    sent_at: float  # when the request was handed to the socket
    outcome: Outcome
    headers_ms: float | None = None  # send -> response headers
    ttft_ms: float | None = None  # send -> first chunk with non-empty generated text
    e2e_ms: float | None = None  # send -> end of response (or the failure)
    chunk_gaps_ms: tuple[float, ...] = field(default=())  # gaps between content chunks
    prompt_tokens: int | None = None  # server's usage.prompt_tokens
    output_tokens: int | None = None  # server's usage.completion_tokens
    max_tokens: int = 0  # what the request asked for
    input_tokens_target: int = 0  # prompt length built with gpufleet.tokens
    status: int | None = None  # HTTP status, when one arrived
    error: str = ""
    content_chars: int | None = None  # characters of generated text received (None: not counted)

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    @property
    def failed(self) -> bool:
        return self.outcome in FAILURE_OUTCOMES

    @property
    def schedule_delay_ms(self) -> float:
        """How late the request left compared with the load profile's plan."""
        return (self.sent_at - self.scheduled_at) * 1000.0

    @property
    def tpot_ms(self) -> float | None:
        """(e2e - ttft) / (output_tokens - 1); undefined below two tokens or without a TTFT."""
        if not self.ok or self.ttft_ms is None or self.e2e_ms is None or self.output_tokens is None:
            return None
        if self.output_tokens < 2:
            return None
        return (self.e2e_ms - self.ttft_ms) / (self.output_tokens - 1)

    def to_row(self) -> list[Any]:
        """Plain list in FIELDS order, for msgpack (Locust messages) and JSON."""
        return [
            self.request_id,
            self.process,
            self.workload,
            self.endpoint,
            self.stream,
            self.scheduled_at,
            self.sent_at,
            self.outcome.value,
            self.headers_ms,
            self.ttft_ms,
            self.e2e_ms,
            list(self.chunk_gaps_ms),
            self.prompt_tokens,
            self.output_tokens,
            self.max_tokens,
            self.input_tokens_target,
            self.status,
            self.error,
            self.content_chars,
        ]

    @classmethod
    def from_row(cls, row: list[Any] | tuple[Any, ...]) -> RequestRecord:
        """Inverse of `to_row`; raises ValueError on a row of the wrong shape."""
        if len(row) not in (len(FIELDS), len(FIELDS) - 1):  # rows saved before content_chars existed
            raise ValueError(f"record row has {len(row)} fields, expected {len(FIELDS)}")
        values = dict(zip(FIELDS, row))
        values["outcome"] = Outcome(values["outcome"])
        values["stream"] = bool(values["stream"])
        values["chunk_gaps_ms"] = tuple(float(g) for g in values["chunk_gaps_ms"])
        for name in ("scheduled_at", "sent_at"):
            value = float(values[name])
            if not math.isfinite(value):
                raise ValueError(f"record field {name} is not a finite number: {values[name]!r}")
            values[name] = value
        return cls(**values)


FIELDS: tuple[str, ...] = (
    "request_id",
    "process",
    "workload",
    "endpoint",
    "stream",
    "scheduled_at",
    "sent_at",
    "outcome",
    "headers_ms",
    "ttft_ms",
    "e2e_ms",
    "chunk_gaps_ms",
    "prompt_tokens",
    "output_tokens",
    "max_tokens",
    "input_tokens_target",
    "status",
    "error",
    "content_chars",
)
