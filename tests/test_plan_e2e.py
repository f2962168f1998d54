"""A real sweep against the simulator, whose capacity is known in closed form.

With a fixed TTFT t, a fixed inter-token latency i, no jitter, `max_num_seqs`
M and exactly L output tokens per request (the `completions` workload), every
request holds one of M slots for S = t + (L - 1) x i seconds, so one replica
completes at most C = M / S requests per second (Little's law). Below C the
queue stays short; above it, it grows for as long as the load lasts. With a
TTFT objective of about half a service time of queueing, the knee the sweep
finds must lie within one bisection step of C.
"""

from __future__ import annotations

import pytest

from gpufleet.core.slo import SloSpec
from gpufleet.plan.measure import GateMeasure, PointSettings
from gpufleet.plan.sweep import PASS, SweepSettings, find_knee
from gpufleet.simserver.launch import LocalServer

SLOTS, TTFT_MS, ITL_MS, OUTPUT_TOKENS = 16, 20.0, 8.0, 64  # the `completions` workload: exactly 64 tokens
SERVICE_S = (TTFT_MS + (OUTPUT_TOKENS - 1) * ITL_MS) / 1000
CAPACITY = SLOTS / SERVICE_S  # 30.53 req/s
RESOLUTION = 0.1


def knee_slo() -> SloSpec:
    # Loop-lag and schedule-delay limits sized for a shared CI machine: the objective (280 ms of
    # queueing) is far coarser than the tens of milliseconds a busy machine adds to the client.
    return SloSpec(workload="completions", target_rate=CAPACITY, duration_s=5, warmup_s=1,
                   ttft_p95_ms=TTFT_MS + 280, max_error_rate=0.01, min_goodput=0.95, min_samples=40,
                   max_loop_lag_p99_ms=50, max_schedule_delay_p99_ms=100)


def sweep_simulator(start_fraction: float = 0.6, resolution: float = RESOLUTION):
    with LocalServer(ttft_ms=TTFT_MS, itl_ms=ITL_MS, jitter=0, max_num_seqs=SLOTS,
                     kv_capacity_tokens=1_000_000) as server:
        measure = GateMeasure(server.url, server.model, knee_slo(), PointSettings(timeout_s=15))
        start = round(CAPACITY * start_fraction, 1)
        settings = SweepSettings(start_rps=start, max_rps=start * 8, min_rps=start / 8, resolution=resolution,
                                 max_points=8)
        return find_knee(measure, settings)


@pytest.mark.slow
def test_sweep_finds_the_analytic_capacity_within_one_step():
    result = sweep_simulator()
    assert result.outcome == "knee", result.message
    knee, upper = result.knee.rate, result.upper_rps
    step = max(upper - knee, RESOLUTION * knee)
    assert abs(knee - CAPACITY) <= step, (knee, upper, CAPACITY, [(p.rate, p.verdict, p.ttft_p95_ms) for p in result.points])
    assert all(p.verdict != "invalid" for p in result.points), result.points
    assert all(p.verdict == PASS for p in result.points if p.rate <= 0.85 * CAPACITY)
    assert result.knee.output_tokens_per_s == pytest.approx(result.knee.requests_per_s * OUTPUT_TOKENS, rel=0.01)
