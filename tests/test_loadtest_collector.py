"""Per-process state, worker -> master batches, and the master's completeness rule."""

from __future__ import annotations

import argparse
import dataclasses

import gevent
import pytest

from common.collector import Aggregator, ProcessState
from common.health import HealthMonitor, cpu_share
from common.options import RunOptions
from common.timing import Clock
from gpufleet.loadtest.rawrun import ProcessSummary  # noqa: E402
from gpufleet.loadtest.records import Outcome, RequestRecord  # noqa: E402

T0 = 1_700_000_000.0


class FakeClock(Clock):
    def __init__(self, now: float) -> None:
        super().__init__()
        self.value = now

    def now(self) -> float:
        return self.value


def record(i: int, process: str, outcome: Outcome = Outcome.OK) -> RequestRecord:
    return RequestRecord(request_id=f"run-{process}-{i}", process=process, workload="short_chat", endpoint="chat",
                         stream=True, scheduled_at=T0 + i, sent_at=T0 + i, outcome=outcome, ttft_ms=10.0,
                         e2e_ms=100.0, output_tokens=5, max_tokens=5)


OPTIONS = RunOptions(workload="short_chat", warmup_s=2.0, duration_s=10.0, timeout_s=30.0, run_id="run",
                     model="m", rate=4.0, dispatchers=2)


def test_a_process_accepts_requests_until_the_window_ends_then_drains():
    clock = FakeClock(T0)
    state = ProcessState("w0", OPTIONS, T0, clock=clock, health=HealthMonitor(clock=clock))
    assert (state.window_end, state.give_up_at) == (T0 + 12.0, T0 + 12.0 + 30.0 + 5.0)
    assert [state.next_request_id(), state.next_request_id()] == ["run-w0-1", "run-w0-2"]
    assert state.driver_started() == 0 and state.driver_started() == 1
    assert state.accepting() and not state.finished()
    clock.value = T0 + 12.0
    assert not state.accepting() and not state.finished()  # two drivers still waiting on requests
    state.driver_finished()
    state.driver_finished()
    assert state.finished()


def test_a_stuck_driver_does_not_hold_the_run_forever():
    clock = FakeClock(T0)
    state = ProcessState("w0", OPTIONS, T0, clock=clock, health=HealthMonitor(clock=clock))
    state.driver_started()
    clock.value = state.give_up_at + 0.5
    assert not state.finished()
    clock.value = state.give_up_at + 1.0
    assert state.finished()


def test_an_unbounded_run_never_finishes_by_itself():
    state = ProcessState("local", RunOptions(), T0, health=HealthMonitor())
    assert state.window_end is None and state.accepting() and not state.finished()


def test_batches_carry_new_records_only_and_the_latest_summary():
    state = ProcessState("w1", OPTIONS, T0, health=HealthMonitor())
    state.driver_started()
    state.add(record(1, "w1"))
    first = state.payload(done=False)
    assert len(first["rows"]) == 1 and first["summary"]["users"] == 1 and not first["done"]
    state.add(record(2, "w1"))
    state.unsent.append(T0 + 9)
    state.errors.append("driver 0: boom")
    last = state.payload(done=True)
    assert [row[0] for row in last["rows"]] == ["run-w1-2"]
    assert last["summary"]["unsent"] == [T0 + 9] and last["summary"]["errors"] == ["driver 0: boom"]
    assert state.final_shipped and state.records_total == 2


def worker_batches(process: str, n: int) -> list[dict]:
    state = ProcessState(process, OPTIONS, T0, health=HealthMonitor())
    state.driver_started()
    batches = []
    for i in range(n):
        state.add(record(i, process))
        if i % 3 == 2:
            batches.append(state.payload(done=False))
    state.driver_finished()
    batches.append(state.payload(done=True))
    return batches


def test_the_master_merges_workers_and_completes_only_when_all_are_done():
    aggregator = Aggregator({"node-a", "node-b"}, OPTIONS, T0, "http://127.0.0.1:9")
    a, b = worker_batches("w0", 7), worker_batches("w1", 5)
    for batch in a:
        aggregator.receive("node-a", batch)
    for batch in b[:-1]:
        aggregator.receive("node-b", batch)
    assert not aggregator.all_done and aggregator.missing() == ["node-b"]
    incomplete = aggregator.raw_run()
    assert not incomplete.complete and incomplete.incomplete_reason == "processes not finished: node-b"
    aggregator.receive("node-b", b[-1])
    run = aggregator.raw_run()
    assert run.complete and run.incomplete_reason == ""
    times = [r.scheduled_at for r in run.records]
    assert len(times) == 12 and times == sorted(times)
    assert (run.mode, run.rate, run.users, run.model, run.run_id) == ("open", 4.0, None, "m", "run")
    assert [p.process for p in run.processes] == ["w0", "w1"] and all(p.done for p in run.processes)


def test_a_malformed_batch_or_a_worker_error_makes_the_run_incomplete():
    aggregator = Aggregator({"node-a"}, OPTIONS, T0, "http://127.0.0.1:9")
    aggregator.receive("node-a", {"rows": [[1, 2]], "summary": {}, "done": True})
    assert aggregator.problems == ["bad batch from node-a: ValueError('record row has 2 fields, expected 19')"]
    batches = worker_batches("w0", 2)
    batches[-1]["summary"]["errors"] = ["driver 0: RuntimeError('/v1/models listed no model')"]
    for batch in batches:
        aggregator.receive("node-a", batch)
    run = aggregator.raw_run()
    assert not run.complete
    assert run.incomplete_reason == (
        "bad batch from node-a: ValueError('record row has 2 fields, expected 19'); "
        "w0: driver 0: RuntimeError('/v1/models listed no model')"
    )


def test_progress_phases():
    aggregator = Aggregator({"local"}, OPTIONS, T0, "http://127.0.0.1:9")
    aggregator.receive("local", {"rows": [record(1, "local").to_row(), record(2, "local", Outcome.TIMEOUT).to_row()],
                                 "summary": {"process": "local"}, "done": False})
    assert aggregator.progress(T0 + 1)["phase"] == "warmup"
    assert aggregator.progress(T0 + 5) == {"elapsed_s": 5.0, "phase": "measure", "records": 2, "ok": 1, "failed": 1,
                                           "processes_done": 0, "processes": 1, "ttft_p95_ms": 10.0}
    assert aggregator.progress(T0 + 12.5)["phase"] == "drain"


def test_live_p95_ttft_uses_the_measured_window_once_it_has_requests():
    aggregator = Aggregator({"local"}, OPTIONS, T0, "http://127.0.0.1:9")
    assert aggregator.live_ttft_p95() is None
    rows = [dataclasses.replace(record(i, "local"), ttft_ms=float(i * 100)).to_row() for i in range(1, 23)]
    aggregator.receive("local", {"rows": rows, "summary": {"process": "local"}, "done": False})
    # records 2..22 are in the window (warm-up 2 s): 21 values 200..2200, nearest-rank p95 = 20th = 2100
    assert aggregator.live_ttft_p95() == 2100.0


def test_options_from_locust_and_their_validation():
    parsed = argparse.Namespace(gpufleet_rate=2.5, gpufleet_duration=30.0, gpufleet_workload="mixed",
                                gpufleet_model=None, gpufleet_autoquit=True)
    options = RunOptions.from_parsed(parsed)
    assert (options.rate, options.duration_s, options.workload, options.model, options.autoquit) == (
        2.5, 30.0, "mixed", "", True)
    assert options.open_loop and options.bounded
    assert RunOptions.from_parsed(None) == RunOptions()
    with pytest.raises(ValueError, match=r"^--gpufleet-rate must be >= 0, got -1.0; "
                                         r"--gpufleet-max-in-flight must be >= 1, got 0$"):
        RunOptions.from_parsed(argparse.Namespace(gpufleet_rate=-1, gpufleet_max_in_flight=0))


def test_cpu_share_and_the_monitor_samples():
    assert cpu_share(1.0, 1.5, 10.0, 11.0) == 0.5
    with pytest.raises(ValueError, match="^wall-clock interval must be positive$"):
        cpu_share(0, 0, 1.0, 1.0)
    monitor = HealthMonitor(tick=0.02, cpu_every=0.1)
    monitor.start()
    gevent.sleep(0.35)
    monitor.stop()
    assert len(monitor.loop_lag_ms) >= 10 and all(lag >= 0 for _, lag in monitor.loop_lag_ms)
    assert len(monitor.cpu) >= 2 and all(0 <= share < 2 for _, share in monitor.cpu)


def test_a_local_run_hands_records_over_without_row_encoding():
    clock = FakeClock(T0)
    state = ProcessState("local", OPTIONS, T0, clock=clock, health=HealthMonitor(clock=clock))
    state.health.loop_lag_ms.append((T0 + 1, 0.4))
    state.add(record(1, "local"))
    payload = state.payload(done=True, local=True)
    assert "rows" not in payload and [r.request_id for r in payload["records"]] == ["run-local-1"]
    assert isinstance(payload["summary"], ProcessSummary)  # the summary too: no dict round trip
    aggregator = Aggregator({"local"}, OPTIONS, T0, "http://127.0.0.1:9")
    aggregator.receive("local", payload)
    assert aggregator.all_done and aggregator.records == [record(1, "local")]
    assert aggregator.summaries["local"].loop_lag_ms == ((T0 + 1, 0.4),)
    assert state.payload(done=True, local=True)["records"] == []  # handed over once


def test_a_local_batch_without_a_summary_object_is_a_problem_not_a_crash():
    aggregator = Aggregator({"local"}, OPTIONS, T0, "http://127.0.0.1:9")
    aggregator.receive("local", {"process": "local", "records": [], "summary": {"process": "local"}, "done": True})
    assert aggregator.problems == ["bad batch from local: TypeError('a local batch carries a ProcessSummary, not dict')"]
    assert not aggregator.all_done
