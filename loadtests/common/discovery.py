"""Which model to ask for: the first one /v1/models lists, and what a refusal means.

A server that refuses even its model listing (HTTP 429, 5xx, garbage) is a
failing server, not a broken harness: each refusal is recorded as a failed
request (endpoint "models") and retried after the closed loop's backoff until
the run ends, so the gate judges it `fail` like any server that fails every
request, instead of `invalid`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import gevent

from common.backoff import FailureBackoff
from common.client import RequestDeadline
from common.timing import CLOCK
from gpufleet.loadtest.records import Outcome, RequestRecord


def refusal_record(request_id: str, process: str, workload: str, sent: float, error: Exception) -> RequestRecord:
    """A failed /v1/models request as a record (fast server failure or connection error)."""
    message = str(error)[:200] or type(error).__name__
    status = None
    if message.startswith("GET /v1/models answered HTTP "):
        status = int(message.rsplit(" ", 1)[-1]) if message.rsplit(" ", 1)[-1].isdigit() else None
    if status is not None:
        outcome = Outcome.HTTP_ERROR
    elif isinstance(error, (TimeoutError, RequestDeadline)):
        outcome = Outcome.TIMEOUT
    elif isinstance(error, OSError):
        outcome = Outcome.CONNECTION_ERROR
    else:
        outcome = Outcome.MALFORMED
    at = CLOCK.at(sent)
    return RequestRecord(request_id=request_id, process=process, workload=workload, endpoint="models", stream=False,
                         scheduled_at=at, sent_at=at, outcome=outcome, e2e_ms=(time.perf_counter() - sent) * 1000.0,
                         status=status, error=f"model discovery: {message}")


def discover_until(discover: Callable[[], str], record: Callable[[float, Exception], None],
                   keep_going: Callable[[], bool]) -> str | None:
    """The model name, or None when the run ended while the server kept refusing."""
    backoff = FailureBackoff()
    while keep_going():
        sent = time.perf_counter()
        try:
            return discover()
        except Exception as exc:  # noqa: BLE001 - any refusal is the server's answer
            record(sent, exc)
            gevent.sleep(backoff.after(True))
    return None
