"""Exact statistics on hand-made traces: percentiles, TPOT, ITL, goodput, warm-up drop."""

from __future__ import annotations

import math

import pytest

from gpufleet.loadtest.rawrun import ProcessSummary, RawRun, read_run, write_run
from gpufleet.loadtest.records import FIELDS, Outcome, RequestRecord
from gpufleet.loadtest.stats import Distribution, compute, compute_records, is_good, percentile

T0 = 1_700_000_000.0


def rec(at: float, *, outcome: Outcome = Outcome.OK, ttft: float | None = 100.0, e2e: float | None = 1000.0,
        out: int | None = 10, gaps: tuple[float, ...] = (), sent_delay_ms: float = 0.0,
        rid: str = "r") -> RequestRecord:
    return RequestRecord(
        request_id=rid, process="local", workload="short_chat", endpoint="chat", stream=True,
        scheduled_at=T0 + at, sent_at=T0 + at + sent_delay_ms / 1000.0, outcome=outcome,
        headers_ms=5.0, ttft_ms=ttft, e2e_ms=e2e, chunk_gaps_ms=gaps, prompt_tokens=50,
        output_tokens=out, max_tokens=16, input_tokens_target=48,
    )


def test_nearest_rank_percentiles_match_the_textbook_example():
    values = [15.0, 20.0, 35.0, 40.0, 50.0]
    assert [percentile(values, p) for p in (5, 30, 40, 50, 100)] == [15.0, 20.0, 20.0, 35.0, 50.0]


def test_percentiles_of_one_to_hundred_are_the_values_themselves():
    values = [float(v) for v in range(1, 101)]
    dist = Distribution.of(reversed(values))
    assert (dist.p50, dist.p90, dist.p95, dist.p99, dist.max, dist.count) == (50.0, 90.0, 95.0, 99.0, 100.0, 100)
    assert dist.mean == 50.5


def test_percentile_of_ten_values_rounds_the_rank_up():
    values = [float(v) for v in range(1, 11)]
    assert [percentile(values, p) for p in (50, 90, 95, 99)] == [5.0, 9.0, 10.0, 10.0]


def test_percentile_rejects_empty_samples_and_bad_ranks():
    with pytest.raises(ValueError, match=r"^percentile of an empty sample$"):
        percentile([], 50)
    with pytest.raises(ValueError, match=r"^percentile must be in \(0, 100\], got 0$"):
        percentile([1.0], 0)


def test_distribution_of_nothing_has_no_values_and_nan_is_refused():
    assert Distribution.of([]).to_dict() == {"p50": None, "p90": None, "p95": None, "p99": None, "mean": None}
    with pytest.raises(ValueError, match=r"^metric samples must be finite numbers$"):
        Distribution.of([1.0, math.nan])


def test_tpot_is_decode_time_per_token_after_the_first():
    assert rec(0, ttft=100.0, e2e=1000.0, out=10).tpot_ms == 100.0
    assert rec(0, ttft=250.0, e2e=250.0, out=1).tpot_ms is None
    assert rec(0, outcome=Outcome.TRUNCATED, ttft=100.0, e2e=1000.0, out=10).tpot_ms is None


def test_warmup_is_dropped_by_time_and_the_tail_after_the_window_too():
    records = [rec(5.0, e2e=9000.0), rec(10.0, e2e=1000.0), rec(29.999, e2e=2000.0), rec(30.0, e2e=7000.0)]
    stats = compute_records(records, (T0 + 10, T0 + 30))
    assert (stats.warmup_dropped, stats.requests, stats.after_window) == (1, 2, 1)
    assert (stats.e2e_ms.p50, stats.e2e_ms.p99, stats.e2e_ms.mean) == (1000.0, 2000.0, 1500.0)
    assert stats.window_s == 20.0


def test_itl_pools_every_gap_and_tpot_ttft_are_per_request():
    records = [
        rec(1, ttft=100.0, e2e=400.0, out=4, gaps=(100.0, 100.0, 100.0)),
        rec(2, ttft=300.0, e2e=1200.0, out=4, gaps=(200.0, 300.0, 400.0)),
    ]
    stats = compute_records(records, (T0, T0 + 10))
    assert stats.itl_ms.count == 6
    assert (stats.itl_ms.p50, stats.itl_ms.p90, stats.itl_ms.p99) == (100.0, 400.0, 400.0)
    assert stats.itl_ms.mean == 200.0
    assert (stats.tpot_ms.p50, stats.tpot_ms.p99) == (100.0, 300.0)
    assert (stats.ttft_ms.p50, stats.ttft_ms.p95) == (100.0, 300.0)
    assert stats.output_tokens == 8 and stats.output_tokens_per_s == 0.8 and stats.requests_per_s == 0.2


def test_failures_never_enter_latency_statistics():
    failed = [
        rec(1, outcome=kind, ttft=9999.0, e2e=99999.0, out=5, gaps=(5000.0,))
        for kind in (Outcome.HTTP_ERROR, Outcome.TIMEOUT, Outcome.TRUNCATED, Outcome.MALFORMED,
                     Outcome.MISSING_USAGE, Outcome.CONNECTION_ERROR, Outcome.NO_CONTENT)
    ]
    stats = compute_records([rec(2, ttft=50.0, e2e=500.0, out=3, gaps=(10.0, 20.0))] + failed, (T0, T0 + 10))
    assert (stats.requests, stats.ok, stats.errors) == (8, 1, 7)
    assert stats.error_rate == 7 / 8
    assert stats.failures == {"connection_error": 1, "http_error": 1, "malformed": 1, "missing_usage": 1,
                              "no_content": 1, "timeout": 1, "truncated": 1}
    assert (stats.ttft_ms.count, stats.ttft_ms.max) == (1, 50.0)
    assert (stats.e2e_ms.count, stats.e2e_ms.max) == (1, 500.0)
    assert stats.itl_ms.max == 20.0 and stats.tpot_ms.max == 225.0
    assert stats.output_tokens == 3


def test_cancelled_requests_are_counted_apart_from_errors():
    stats = compute_records([rec(1), rec(2, outcome=Outcome.CANCELLED)], (T0, T0 + 10))
    assert (stats.requests, stats.errors, stats.cancelled, stats.error_rate) == (1, 0, 1, 0.0)


def test_goodput_counts_requests_meeting_both_per_request_thresholds():
    records = [
        rec(1, ttft=100.0, e2e=1000.0, out=10),  # tpot 100 -> good
        rec(2, ttft=600.0, e2e=1000.0, out=10),  # ttft too slow
        rec(3, ttft=100.0, e2e=3000.0, out=10),  # tpot ~322 too slow
        rec(4, ttft=100.0, e2e=100.0, out=1),  # tpot undefined -> meets it
        rec(5, outcome=Outcome.TIMEOUT),  # failures are never good
    ]
    stats = compute_records(records, (T0, T0 + 10), goodput_ttft_ms=500.0, goodput_tpot_ms=150.0)
    assert stats.goodput.good == 2
    assert stats.goodput.share == 0.4
    assert stats.goodput.rate_per_s == 0.2
    assert stats.goodput.to_dict() == {"share": 0.4, "rate_per_s": 0.2, "good": 2, "ttft_ms": 500.0, "tpot_ms": 150.0}


def test_a_missing_ttft_fails_a_ttft_threshold():
    assert is_good(rec(0, ttft=None), None, 100.0) is True
    assert is_good(rec(0, ttft=None), 100.0, None) is False


def test_schedule_delay_and_achieved_rate_of_an_open_loop():
    records = [rec(i * 0.5, sent_delay_ms=float(i)) for i in range(20)]  # 2/s planned, i ms late
    summary = ProcessSummary(process="w0", users=1, unsent=(T0 + 9.9, T0 + 11.0))
    stats = compute_records(records, (T0, T0 + 10), open_loop=True, processes=[summary])
    assert stats.schedule_delay_ms.p50 == pytest.approx(9.0, abs=1e-3)
    assert stats.schedule_delay_ms.p99 == pytest.approx(19.0, abs=1e-3)
    assert stats.scheduled_rate == 2.1  # 20 sent + 1 unsent in the window
    assert stats.achieved_rate == 2.0
    assert stats.client.unsent == 1


def test_client_health_uses_only_samples_inside_the_window():
    procs = [
        ProcessSummary(process="w0", users=2, cpu=((T0 - 1, 1.0), (T0 + 1, 0.2), (T0 + 2, 0.4)),
                       loop_lag_ms=((T0 + 1, 1.0), (T0 + 2, 3.0), (T0 + 20, 900.0))),
        ProcessSummary(process="w1", users=3, cpu=((T0 + 1, 0.5),), loop_lag_ms=((T0 + 3, 2.0),), cap_waits=4),
    ]
    client = compute_records([rec(1)], (T0, T0 + 10), processes=procs).client
    assert client.to_dict() == {"processes": 2, "users": 5, "cpu_max": 0.5, "loop_lag_p99_ms": 3.0,
                                "loop_lag_max_ms": 3.0, "cap_waits": 4, "unsent": 0}


def test_a_run_window_starts_after_warmup(tmp_path):
    run = RawRun(run_id="abc", target="http://127.0.0.1:1", model="m", workload="short_chat", mode="closed",
                 users=2, rate=None, warmup_s=10.0, duration_s=20.0, max_in_flight=8, seed=3, started_at=T0,
                 complete=True, processes=(ProcessSummary(process="local", users=2, done=True),),
                 records=(rec(5.0), rec(12.0, gaps=(1.5, 2.5)), rec(31.0)))
    assert run.window == (T0 + 10.0, T0 + 30.0)
    path = tmp_path / "run.json"
    write_run(run, path)
    again = read_run(path)
    assert again == run
    stats = compute(again)
    assert (stats.requests, stats.warmup_dropped, stats.after_window) == (1, 1, 1)


def test_record_rows_round_trip_and_reject_a_wrong_shape():
    record = rec(1, gaps=(1.0, 2.0), rid="x-1")
    assert RequestRecord.from_row(record.to_row()) == record
    assert len(record.to_row()) == len(FIELDS)
    with pytest.raises(ValueError, match=r"^record row has 3 fields, expected 19$"):
        RequestRecord.from_row([1, 2, 3])


def test_reading_a_run_file_names_the_problem(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"format": 99}')
    with pytest.raises(ValueError, match=r"unsupported run format 99, expected 1$"):
        read_run(path)
    path.write_text("not json")
    with pytest.raises(ValueError, match=r"bad\.json: not JSON"):
        read_run(path)
