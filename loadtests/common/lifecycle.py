"""Wires the scenario into Locust's events, in local, master and worker processes alike.

* every process: registers the --gpufleet-* options;
* worker / local process, on test_start: a fresh `ProcessState`, the health
  monitor and a reporter greenlet that ships record batches every second
  and a final `done` batch when the schedule is over (workers send them to
  the master as custom messages; a local run hands them over directly);
* master / local process: an `Aggregator` that merges the batches, prints
  progress lines, writes the raw run to --gpufleet-out when every process is
  done (or, incomplete, when Locust quits first), then stops or quits.

Plain `locust -f loadtests/chat.py --host URL` (web UI, no --gpufleet-out)
logs a summary of exact statistics when a test is stopped instead.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

from common.collector import MESSAGE, Aggregator, ProcessState
from common.options import RunOptions, add_arguments
from common.timing import CLOCK
from gpufleet.loadtest.rawrun import RawRun, write_run
from gpufleet.loadtest.stats import compute

log = logging.getLogger("gpufleet.loadtest")
PROGRESS_PREFIX = "GPUFLEET_PROGRESS "
LOCAL = "local"


class Runtime:
    """Process-wide state of the current test (Locust runs one test at a time per process)."""

    def __init__(self) -> None:
        self.state: ProcessState | None = None
        self.aggregator: Aggregator | None = None
        self._greenlets: list[gevent.Greenlet] = []

    def spawn(self, fn, *args) -> None:
        self._greenlets.append(gevent.spawn(fn, *args))

    def reset(self) -> None:
        for greenlet in self._greenlets:
            greenlet.kill(block=False)
        self._greenlets = []
        if self.state is not None:
            self.state.health.stop()
        self.state = None
        self.aggregator = None


RUNTIME = Runtime()


def process_name(environment: Environment) -> str:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        return f"w{runner.worker_index}"
    return LOCAL


def _deliver(environment: Environment, state: ProcessState, done: bool) -> None:
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.send_message(MESSAGE, state.payload(done))
    elif RUNTIME.aggregator is not None:
        RUNTIME.aggregator.receive(LOCAL, state.payload(done, local=True))
        _after_receive(environment)


def _reporter(environment: Environment, state: ProcessState) -> None:
    """Ship a batch every second; as soon as the schedule is over, ship the final one."""
    last = CLOCK.now()
    while not state.final_shipped:
        gevent.sleep(0.2)
        done = state.finished()
        if done or CLOCK.now() - last >= 1.0:
            _deliver(environment, state, done=done)
            last = CLOCK.now()


def _on_message(environment: Environment, msg: Any, **_: Any) -> None:
    if RUNTIME.aggregator is None:
        log.warning("records from %s arrived outside a test; ignored", msg.node_id)
        return
    RUNTIME.aggregator.receive(msg.node_id, msg.data)
    _after_receive(environment)


def _after_receive(environment: Environment) -> None:
    aggregator = RUNTIME.aggregator
    if aggregator is None or aggregator.finalized or not aggregator.all_done:
        return
    finalize(environment)
    runner = environment.runner
    if aggregator.options.autoquit:
        gevent.spawn(runner.quit)
    elif aggregator.options.bounded:
        gevent.spawn(runner.stop)


def finalize(environment: Environment, reason: str = "") -> RawRun | None:
    """Write (or log) the run once; later calls do nothing."""
    aggregator = RUNTIME.aggregator
    if aggregator is None or aggregator.finalized:
        return None
    aggregator.finalized = True
    run = aggregator.raw_run(reason=reason)
    if aggregator.options.out:
        write_run(run, Path(aggregator.options.out))
        log.info("raw run written to %s (%d records, complete=%s)", aggregator.options.out, len(run.records),
                 run.complete)
    else:
        log_summary(run)
    return run


def log_summary(run: RawRun) -> None:
    """Exact statistics in the log, for interactive web-UI sessions."""
    if not run.records:
        log.info("gpufleet: no requests recorded")
        return
    if run.duration_s <= 0:  # unbounded: measure from warm-up to the last planned send
        last = max(r.scheduled_at for r in run.records)
        run = RawRun(**{**run.__dict__, "duration_s": max(last - run.started_at - run.warmup_s, 1e-3)})
    stats = compute(run)
    lines = [f"gpufleet exact statistics ({stats.requests} requests, {stats.errors} failed, "
             f"{stats.window_s:.1f} s window):"]
    for name, dist in (("TTFT", stats.ttft_ms), ("ITL", stats.itl_ms), ("TPOT", stats.tpot_ms), ("E2E", stats.e2e_ms)):
        if dist.count:
            lines.append(f"  {name:<5} ms  p50 {dist.p50:9.1f}  p90 {dist.p90:9.1f}  p95 {dist.p95:9.1f}  "
                         f"p99 {dist.p99:9.1f}  mean {dist.mean:9.1f}")
    lines.append(f"  output tokens/s {stats.output_tokens_per_s:.1f}  requests/s {stats.requests_per_s:.2f}")
    log.info("\n".join(lines))


def _progress_printer(aggregator: Aggregator) -> None:
    while not aggregator.finalized:
        sys.stdout.write(PROGRESS_PREFIX + json.dumps(aggregator.progress(CLOCK.now())) + "\n")
        sys.stdout.flush()
        gevent.sleep(1.0)


@events.init_command_line_parser.add_listener
def _on_parser(parser: Any, **_: Any) -> None:
    add_arguments(parser)


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, MasterRunner):
        environment.runner.register_message(MESSAGE, _on_message)


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_: Any) -> None:
    RUNTIME.reset()
    options = RunOptions.from_parsed(environment.parsed_options)
    now = CLOCK.now()
    runner = environment.runner
    if isinstance(runner, (MasterRunner, LocalRunner)):
        expected = set(runner.clients.keys()) if isinstance(runner, MasterRunner) else {LOCAL}
        RUNTIME.aggregator = Aggregator(expected, options, now, environment.host or "")
        if options.progress:
            RUNTIME.spawn(_progress_printer, RUNTIME.aggregator)
    if isinstance(runner, (WorkerRunner, LocalRunner)):
        state = ProcessState(process_name(environment), options, now)
        state.health.start()
        RUNTIME.state = state
        RUNTIME.spawn(_reporter, environment, state)


@events.test_stop.add_listener
def _on_test_stop(environment: Environment, **_: Any) -> None:
    state = RUNTIME.state
    if state is not None and not state.final_shipped:
        # Stopped before the schedule ended (web UI stop, --run-time): ship what there is.
        _deliver(environment, state, done=not state.options.bounded)
    if isinstance(environment.runner, LocalRunner):
        finalize(environment, reason="the test was stopped before the schedule ended")


@events.quitting.add_listener
def _on_quitting(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, (MasterRunner, LocalRunner)):
        finalize(environment, reason="Locust quit before every process finished")
