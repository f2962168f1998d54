"""The Locust user class behind every locustfile in loadtests/.

One user is one *driver*: in a closed loop it sends requests back to back;
in an open loop (--gpufleet-rate) it is a dispatcher firing its share of the
Poisson arrivals. When the measured window is over the driver stops sending,
waits for its requests to end, and then idles until Locust stops it, so the
final record batch is complete. Every finished request is also reported to
Locust's own statistics (`events.request`), so the web UI shows it, and so
are its TTFT, TPOT and ITL (`common.locust_stats`).
"""

from __future__ import annotations

import functools
import logging
import random

import gevent
from locust import FastHttpUser, task
from locust.runners import LocalRunner, WorkerRunner

from common.backoff import FailureBackoff
from common.client import LLMClient
from common.discovery import discover_until, refusal_record
from common.lifecycle import RUNTIME  # importing it registers the event listeners
from common.locust_stats import report_timings
from common.profiles import OpenLoop, closed_loop, poisson_arrivals
from common.timing import CLOCK
from common.workload import Catalog, RequestPlan, load_catalog
from gpufleet.loadtest.records import Outcome, RequestRecord
from gpufleet.loadtest.usage import usage_problem

log = logging.getLogger("gpufleet.loadtest")
CONNECT_RETRY_PAUSE_S = 0.1


class LLMRequestError(Exception):
    """What Locust's failure table shows for a failed request (grouped by outcome)."""


@functools.lru_cache(maxsize=1)
def catalog() -> Catalog:
    return load_catalog()


def discover_model(client: LLMClient) -> str:
    """The first model the server lists at /v1/models."""
    listing = client.get_json("/v1/models")
    try:
        return str(listing["data"][0]["id"])  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        raise RuntimeError(f"/v1/models listed no model: {str(listing)[:200]}") from None


def failure_label(record: RequestRecord) -> str:
    return f"{record.outcome.value} (HTTP {record.status})" if record.status else record.outcome.value


class LLMUser(FastHttpUser):
    """Abstract: a locustfile subclasses it and sets `workload`."""

    abstract = True
    workload = "short_chat"

    def report(self, record: RequestRecord) -> None:
        if record.outcome is Outcome.CANCELLED:
            return
        self.environment.events.request.fire(
            request_type="POST",
            name=record.workload,
            response_time=record.e2e_ms or 0.0,
            response_length=record.output_tokens or 0,
            exception=None if record.ok else LLMRequestError(failure_label(record)),
            context={"request_id": record.request_id},
            start_time=record.sent_at,
        )
        report_timings(self.environment, record)

    def dispatchers(self, configured: int) -> int:
        """How many users share the open-loop rate."""
        if configured > 0:
            return configured
        runner = self.environment.runner
        if isinstance(runner, LocalRunner):
            return max(1, runner.target_user_count or 1)
        if isinstance(runner, WorkerRunner):
            expect = getattr(self.environment.parsed_options, "expect_workers", 1) or 1
            log.warning("--gpufleet-dispatchers not set: assuming one user per worker (%d)", expect)
            return int(expect)
        return 1

    @task
    def drive(self) -> None:
        state = RUNTIME.state
        if state is None:
            raise RuntimeError("test_start did not run in this process")
        options = state.options
        index = state.driver_started()
        try:
            self._drive(state, options, index)
        except Exception as exc:  # a harness problem: the run must not look complete
            log.exception("driver %s/%d failed", state.name, index)
            state.errors.append(f"driver {index}: {exc!r}"[:300])
        finally:
            state.driver_finished()
        while True:
            gevent.sleep(3600)

    def _drive(self, state, options, index: int) -> None:
        seed = f"{options.seed}:{state.name}:{index}"
        client = LLMClient(
            self.host,
            concurrency=options.max_in_flight if options.open_loop else 1,
            stall_timeout=options.stall_timeout_s,
            request_timeout=options.timeout_s,
            api_key=options.api_key or None,
        )
        try:
            if not state.model:
                state.model = discover_until(
                    lambda: discover_model(client),
                    lambda sent, exc: state.add(refusal_record(state.next_request_id(), state.name,
                                                               options.workload or self.workload, sent, exc)),
                    state.accepting) or state.model
                if not state.model:
                    return  # the server refused its model listing all run long: those records tell the gate
            sampler = catalog().sampler(options.workload or self.workload, state.model,
                                        random.Random(f"{seed}:requests"))
            backoff = FailureBackoff()  # closed loop: failures must not spin the client

            def send(plan: RequestPlan, scheduled_at: float | None) -> None:
                record = client.send(plan, request_id=state.next_request_id(), process=state.name,
                                     scheduled_at=scheduled_at, on_cancel=state.add)
                state.add(record)
                self.report(record)
                if scheduled_at is None and record.outcome is Outcome.CONNECTION_ERROR:
                    gevent.sleep(CONNECT_RETRY_PAUSE_S)  # a dead target must not spin a closed loop
                elif scheduled_at is None:  # a usage the text cannot hold is a failure too (gate: usage_mismatch)
                    failed = record.failed or usage_problem(record) is not None
                    if pause := backoff.after(failed):
                        gevent.sleep(pause)

            if options.open_loop:
                share = options.rate / self.dispatchers(options.dispatchers)
                # The schedule starts when this dispatcher does: arrivals planned before it
                # existed would only measure Locust's spawn delay.
                loop = OpenLoop(send, sampler.next, poisson_arrivals(share, random.Random(f"{seed}:arrivals")),
                                start=max(state.started_at, CLOCK.now()), end=state.window_end,
                                max_in_flight=options.max_in_flight, give_up_at=state.give_up_at)
                try:
                    loop.run()
                finally:
                    state.unsent.extend(loop.unsent)
                    state.cap_waits += loop.cap_waits
            else:
                closed_loop(lambda _: send(sampler.next(), None), state.accepting)
        finally:
            client.close()
