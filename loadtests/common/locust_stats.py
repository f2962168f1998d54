"""TTFT, TPOT and ITL in Locust's own statistics (web UI, --csv, --html, distributed runs).

Per successful streamed request, TTFT and TPOT are fired as request events
(`request_type` "TTFT" / "TPOT", `name` = workload, `response_time` in ms),
so every listener sees them and Locust's tables, charts and CSV get rows of
their own. ITL has one sample per chunk: firing an event per chunk costs
about as much CPU as reading the chunk (~15 us here), so a request's gaps are
logged into the "ITL" entry in one batch, exactly as `StatsEntry.log` would
log each (same rounding buckets, per-second counts, response-time cache);
workers ship that entry to the master with Locust's usual stats reports.
ITL rows count chunks, not requests, so they stay out of Locust's
"Aggregated" row. Locust rounds response times into buckets; gpufleet's
exact statistics remain the gate's truth.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from locust import stats as locust_stats

from gpufleet.loadtest.records import RequestRecord

TTFT, TPOT, ITL = "TTFT", "TPOT", "ITL"
_LOCUST_BUCKETS = locust_stats.bucket_response_time  # Locust lets a run replace it; then it is used as is


def log_many(entry, values_ms: Sequence[float], now: float | None = None) -> None:
    """`entry.log(v, 0)` for every value, in one pass (same fields, same buckets)."""
    if not values_ms:
        return
    now = time.time() if now is None else now
    second = int(now)
    if entry.use_response_times_cache and entry.last_request_timestamp and second > int(entry.last_request_timestamp):
        entry._cache_response_times(second - 1)
    count = len(values_ms)
    entry.num_requests += count
    entry.num_reqs_per_sec[second] += count
    entry.last_request_timestamp = now
    entry.total_response_time += sum(values_ms)
    low, high = min(values_ms), max(values_ms)
    entry.min_response_time = low if entry.min_response_time is None else min(entry.min_response_time, low)
    entry.max_response_time = max(entry.max_response_time, high)
    bucket = locust_stats.bucket_response_time
    times = entry.response_times
    if bucket is _LOCUST_BUCKETS and high < 100:  # Locust's own rule below 100 ms: round() (most gaps)
        for value in values_ms:
            times[round(value)] += 1
    else:
        for value in values_ms:
            times[bucket(value)] += 1


def report_timings(environment, record: RequestRecord) -> None:
    """TTFT/TPOT events and the ITL batch of one successful request."""
    if not record.ok:
        return
    fire = environment.events.request.fire
    context = {"request_id": record.request_id}
    if record.ttft_ms is not None:
        fire(request_type=TTFT, name=record.workload, response_time=record.ttft_ms, response_length=0,
             exception=None, context=context, start_time=record.sent_at)
    tpot = record.tpot_ms
    if tpot is not None:
        fire(request_type=TPOT, name=record.workload, response_time=tpot, response_length=0, exception=None,
             context=context, start_time=record.sent_at)
    if record.chunk_gaps_ms:
        log_many(environment.stats.get(record.workload, ITL), record.chunk_gaps_ms)
