"""The CPU benchmark tool: pure helpers, plus a short real run."""

from __future__ import annotations

import os

import pytest

from gpufleet.simserver.bench import (
    percentile,
    process_cpu_seconds,
    run_bench,
    written_latencies,
)


def test_percentile_nearest_rank() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert (percentile(values, 0.0), percentile(values, 0.5), percentile(values, 1.0)) == (1.0, 3.0, 5.0)
    with pytest.raises(ValueError) as err:
        percentile([], 0.5)
    assert str(err.value) == "percentile of an empty sequence"


def test_written_latencies_use_completed_records_only() -> None:
    records = [
        {"outcome": "ok", "received_at": 10.0, "chunk_times": [10.1, 10.125, 10.15]},
        {"outcome": "client_disconnect", "received_at": 0.0, "chunk_times": [5.0, 9.0]},
        {"outcome": "rejected", "received_at": 0.0, "chunk_times": []},
        {"outcome": "ok", "received_at": 20.0, "chunk_times": [20.2]},
    ]
    ttfts, itls = written_latencies(records)
    assert ttfts == pytest.approx([0.1, 0.2])
    assert itls == pytest.approx([0.025, 0.025])


def test_process_cpu_seconds_of_this_process() -> None:
    assert process_cpu_seconds(os.getpid()) > 0


@pytest.mark.slow
def test_short_bench_run_reports_cpu_and_written_timing() -> None:
    result = run_bench(4, itl_ms=10, ttft_ms=20, max_tokens=10, seconds=0.6, warmup=0.2)
    assert result.streams == 4 and result.completed_requests >= 4
    assert 0 <= result.server_cpu_percent < 100
    assert result.chunks_per_s > 100  # 4 streams x ~100 tokens/s
    assert 20.0 <= result.written_ttft_p99_ms < 200
    assert 9.0 <= result.written_itl_p50_ms < 60
