"""Exact statistics over raw request records.

Percentiles use the nearest-rank definition on the full sorted sample: the
p-th percentile is the smallest observed value x such that at least p% of the
samples are <= x, i.e. sorted[ceil(p/100 * n) - 1]. It always returns a value
that was actually observed, never an interpolation or a histogram bucket
edge, and "p95 <= threshold" then means exactly "at least 95% of requests
were at or under the threshold". Every metric is defined in docs/loadtest.md.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from gpufleet.loadtest.rawrun import ProcessSummary, RawRun
from gpufleet.loadtest.records import Outcome, RequestRecord
from gpufleet.loadtest.usage import cross_check

PERCENTILES: tuple[int, ...] = (50, 90, 95, 99)
# A failure the server answered (an error status or body, a broken or empty stream, a refused
# connection) within this time is "fast": it cost the client a round trip, not a wait.
FAST_FAILURE_MS = 1000.0
SERVER_ANSWERED = frozenset({Outcome.HTTP_ERROR, Outcome.CONNECTION_ERROR, Outcome.MALFORMED, Outcome.NO_CONTENT,
                             Outcome.MISSING_USAGE, Outcome.USAGE_MISMATCH, Outcome.TRUNCATED})


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an ascending sequence; 0 < p <= 100."""
    if not sorted_values:
        raise ValueError("percentile of an empty sample")
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {p}")
    rank = math.ceil(p / 100.0 * len(sorted_values))
    return float(sorted_values[max(rank, 1) - 1])


@dataclass(frozen=True)
class Distribution:
    """Summary of one metric's samples; values are None when there are no samples."""

    count: int
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    mean: float | None = None
    max: float | None = None

    @classmethod
    def of(cls, values: Iterable[float]) -> Distribution:
        ordered = sorted(float(v) for v in values)
        if not ordered:
            return cls(count=0)
        if not all(math.isfinite(v) for v in ordered):
            raise ValueError("metric samples must be finite numbers")
        p50, p90, p95, p99 = (percentile(ordered, p) for p in PERCENTILES)
        return cls(
            count=len(ordered),
            p50=p50,
            p90=p90,
            p95=p95,
            p99=p99,
            mean=math.fsum(ordered) / len(ordered),
            max=ordered[-1],
        )

    def to_dict(self) -> dict[str, float | None]:
        return {"p50": self.p50, "p90": self.p90, "p95": self.p95, "p99": self.p99, "mean": self.mean}


@dataclass(frozen=True)
class Goodput:
    """Requests that succeeded and met the per-request TTFT and TPOT thresholds."""

    good: int
    share: float | None  # good / requests in the window (failures count against it)
    rate_per_s: float  # good / window seconds
    ttft_ms: float | None  # per-request threshold applied (None: not applied)
    tpot_ms: float | None

    def to_dict(self) -> dict[str, float | int | None]:
        return {
            "share": self.share,
            "rate_per_s": self.rate_per_s,
            "good": self.good,
            "ttft_ms": self.ttft_ms,
            "tpot_ms": self.tpot_ms,
        }


@dataclass(frozen=True)
class ClientHealth:
    """Whether the load generator itself kept up, from per-process samples in the window."""

    processes: int
    users: int
    cpu_max: float | None  # highest per-process mean CPU share of one core
    loop_lag_p99_ms: float | None
    loop_lag_max_ms: float | None
    cap_waits: int
    unsent: int  # open-loop arrivals in the window that were never sent

    def to_dict(self) -> dict[str, float | int | None]:
        return {
            "processes": self.processes,
            "users": self.users,
            "cpu_max": self.cpu_max,
            "loop_lag_p99_ms": self.loop_lag_p99_ms,
            "loop_lag_max_ms": self.loop_lag_max_ms,
            "cap_waits": self.cap_waits,
            "unsent": self.unsent,
        }


@dataclass(frozen=True)
class RunStats:
    """Everything the gate and the reports need, computed from one window of records."""

    window_s: float
    requests: int  # in the window, cancelled ones excluded
    ok: int
    errors: int
    cancelled: int
    warmup_dropped: int
    after_window: int
    failures: dict[str, int]
    ttft_ms: Distribution
    itl_ms: Distribution
    tpot_ms: Distribution
    e2e_ms: Distribution
    schedule_delay_ms: Distribution
    prompt_tokens: int
    output_tokens: int
    output_tokens_per_s: float
    requests_per_s: float
    goodput: Goodput
    scheduled_rate: float | None  # open loop: planned arrivals in the window per second
    achieved_rate: float  # planned-in-window requests that were actually sent, per second
    client: ClientHealth = field(
        default_factory=lambda: ClientHealth(0, 0, None, None, None, 0, 0)
    )
    # Per request, the longest pause between two content chunks (what a reader sees as a freeze).
    stall_ms: Distribution = field(default_factory=lambda: Distribution(count=0))
    # Failures the server itself answered within FAST_FAILURE_MS (see gate.server_failing).
    fast_server_failures: int = 0

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None


def in_window(t: float, window: tuple[float, float]) -> bool:
    return window[0] <= t < window[1]


def split_by_window(
    records: Iterable[RequestRecord], window: tuple[float, float]
) -> tuple[list[RequestRecord], int, int]:
    """(records planned inside the window, count before it (warm-up), count after it)."""
    inside: list[RequestRecord] = []
    before = after = 0
    for record in records:
        if record.scheduled_at < window[0]:
            before += 1
        elif record.scheduled_at >= window[1]:
            after += 1
        else:
            inside.append(record)
    return inside, before, after


def is_good(record: RequestRecord, ttft_ms: float | None, tpot_ms: float | None) -> bool:
    """OK and within the per-request thresholds. A missing TTFT fails a TTFT threshold;
    a TPOT that is undefined (fewer than two output tokens) meets any TPOT threshold."""
    if not record.ok:
        return False
    if ttft_ms is not None and (record.ttft_ms is None or record.ttft_ms > ttft_ms):
        return False
    if tpot_ms is not None:
        tpot = record.tpot_ms
        if tpot is not None and tpot > tpot_ms:
            return False
    return True


def client_health(processes: Sequence[ProcessSummary], window: tuple[float, float]) -> ClientHealth:
    cpu_means: list[float] = []
    lags: list[float] = []
    for proc in processes:
        cpu = [v for t, v in proc.cpu if in_window(t, window)]
        if cpu:
            cpu_means.append(math.fsum(cpu) / len(cpu))
        lags.extend(v for t, v in proc.loop_lag_ms if in_window(t, window))
    lag = Distribution.of(lags)
    return ClientHealth(
        processes=len(processes),
        users=sum(p.users for p in processes),
        cpu_max=max(cpu_means) if cpu_means else None,
        loop_lag_p99_ms=lag.p99,
        loop_lag_max_ms=lag.max,
        cap_waits=sum(p.cap_waits for p in processes),
        unsent=sum(1 for p in processes for t in p.unsent if in_window(t, window)),
    )


def compute_records(
    records: Sequence[RequestRecord],
    window: tuple[float, float],
    *,
    goodput_ttft_ms: float | None = None,
    goodput_tpot_ms: float | None = None,
    open_loop: bool = False,
    processes: Sequence[ProcessSummary] = (),
) -> RunStats:
    """Statistics of the records planned inside `window` (warm-up and tail dropped by time)."""
    window_s = window[1] - window[0]
    if not window_s > 0:
        raise ValueError(f"measurement window must be longer than 0 s, got {window_s}")
    inside, before, after = split_by_window(cross_check(records), window)
    cancelled = sum(1 for r in inside if r.outcome is Outcome.CANCELLED)
    counted = [r for r in inside if r.outcome is not Outcome.CANCELLED]
    ok = [r for r in counted if r.ok]
    failures = Counter(r.outcome.value for r in counted if r.failed)
    output_tokens = sum(r.output_tokens or 0 for r in ok)
    good = sum(1 for r in counted if is_good(r, goodput_ttft_ms, goodput_tpot_ms))
    health = client_health(processes, window)
    scheduled_rate = None
    if open_loop:
        scheduled_rate = (len(inside) + health.unsent) / window_s
    return RunStats(
        window_s=window_s,
        requests=len(counted),
        ok=len(ok),
        errors=sum(failures.values()),
        cancelled=cancelled,
        warmup_dropped=before,
        after_window=after,
        failures=dict(sorted(failures.items())),
        ttft_ms=Distribution.of(r.ttft_ms for r in ok if r.ttft_ms is not None),
        itl_ms=Distribution.of(g for r in ok for g in r.chunk_gaps_ms),
        tpot_ms=Distribution.of(t for r in ok if (t := r.tpot_ms) is not None),
        e2e_ms=Distribution.of(r.e2e_ms for r in ok if r.e2e_ms is not None),
        schedule_delay_ms=Distribution.of(r.schedule_delay_ms for r in inside),
        prompt_tokens=sum(r.prompt_tokens or 0 for r in ok),
        output_tokens=output_tokens,
        output_tokens_per_s=output_tokens / window_s,
        requests_per_s=len(ok) / window_s,
        goodput=Goodput(
            good=good,
            share=good / len(counted) if counted else None,
            rate_per_s=good / window_s,
            ttft_ms=goodput_ttft_ms,
            tpot_ms=goodput_tpot_ms,
        ),
        scheduled_rate=scheduled_rate,
        achieved_rate=len(inside) / window_s,  # every record was sent; unsent arrivals have none
        client=health,
        stall_ms=Distribution.of(max(r.chunk_gaps_ms) for r in ok if r.chunk_gaps_ms),
        fast_server_failures=sum(1 for r in counted if r.outcome in SERVER_ANSWERED
                                 and r.e2e_ms is not None and r.e2e_ms <= FAST_FAILURE_MS),
    )


def compute(
    run: RawRun, *, goodput_ttft_ms: float | None = None, goodput_tpot_ms: float | None = None
) -> RunStats:
    """Statistics of a whole run over its measurement window."""
    return compute_records(
        run.records,
        run.window,
        goodput_ttft_ms=goodput_ttft_ms,
        goodput_tpot_ms=goodput_tpot_ms,
        open_loop=run.mode == "open",
        processes=run.processes,
    )
