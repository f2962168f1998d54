"""The accuracy rule of bench/loadtest_accuracy.py, and the server truth it is judged against.

Pure (no processes, no network), so tests/test_bench_helpers.py covers it.

The truth of a chunk is when the server wrote it. The simulator stamps each
write twice, right before it starts and right after it completes
(``chunk_started``, ``chunk_times``): the bytes reached the client's socket
somewhere in between, so the truth of any duration is an interval, not a
point. TTFT's truth is the first write's completion minus the request's
arrival; ITL's is the gap between two writes' completions; the lowest value
each could truly have had uses the later write's start instead.

Rule per percentile (p50 and p95 of TTFT and ITL): the reported value must
not be below the truth and at most max(2 ms, 3%) above it. "Below" is
judged against the lowest value the truth could have had (`true_lo_ms`);
the strict reading against the completion stamps alone is reported beside
it (`strict_passed`). The two differ only by the duration of the server's
own write calls (tens of microseconds): a client whose p50 ITL comes out a
microsecond under the completion stamps has not under-reported anything.
Above is always judged against the completion stamps, so the upper limit
is the tighter one.
"""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass
from typing import Any

from benchlib import percentile

ABS_TOLERANCE_MS = 2.0
REL_TOLERANCE = 0.03
PERCENTILES = (50, 95)


@dataclass(frozen=True)
class Comparison:
    metric: str  # "ttft" or "itl"
    p: int
    reported_ms: float
    true_ms: float  # from the write completion stamps
    true_lo_ms: float | None = None  # the lowest the truth could be (write start stamps); None: not known

    @property
    def error_ms(self) -> float:
        return self.reported_ms - self.true_ms

    @property
    def error_pct(self) -> float:
        return 100.0 * self.error_ms / self.true_ms if self.true_ms else float("inf")

    @property
    def allowed_ms(self) -> float:
        return allowed_error_ms(self.true_ms)

    @property
    def passed(self) -> bool:
        return within_rule(self.reported_ms, self.true_ms, self.true_lo_ms)

    @property
    def strict_passed(self) -> bool:
        """The rule against the completion stamps alone (as if the server's writes took no time)."""
        return within_rule(self.reported_ms, self.true_ms)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "error_ms": self.error_ms, "error_pct": self.error_pct,
                "allowed_ms": self.allowed_ms, "passed": self.passed, "strict_passed": self.strict_passed}


def allowed_error_ms(true_ms: float) -> float:
    """How far above the truth a reported value may be: max(2 ms, 3%)."""
    return max(ABS_TOLERANCE_MS, REL_TOLERANCE * true_ms)


def within_rule(reported_ms: float, true_ms: float, true_lo_ms: float | None = None) -> bool:
    """Never below the truth (its lowest possible value when known), and at most max(2 ms, 3%) above it."""
    lowest = true_ms if true_lo_ms is None else min(true_lo_ms, true_ms)
    return lowest <= reported_ms <= true_ms + allowed_error_ms(true_ms)


@dataclass
class TruthSamples:
    """Server-side samples of the requests the report counted, plus matching diagnostics."""

    ttft_ms: list[float]
    itl_ms: list[float]
    matched: int
    missing: list[str]  # request ids the server has no record of
    gap_count_mismatch: int  # requests whose client and server chunk counts differ
    ttft_errors_ms: list[float]  # per request: client TTFT - server TTFT
    itl_errors_ms: list[float]  # per gap: client gap - server gap (where counts match)
    ttft_lo_ms: list[float] | None = None  # the lowest each could truly be (None: no start stamps)
    itl_lo_ms: list[float] | None = None
    write_us: list[float] | None = None  # how long each server write took (the truth's uncertainty)


def truth_samples(records: list[Any], truth_by_id: dict[str, dict[str, Any]]) -> TruthSamples:
    """Truth for ``records`` (objects with request_id, ttft_ms, chunk_gaps_ms).

    TTFT = first chunk write - arrival; ITL = gaps between chunk writes (completion stamps). With
    the writes' start stamps, also the lowest each could be: the first write's start - arrival, and
    a write's start - the previous write's completion.
    """
    out = TruthSamples([], [], 0, [], 0, [], [], [], [], [])
    for rec in records:
        truth = truth_by_id.get(rec.request_id)
        if truth is None or not truth.get("chunk_times"):
            out.missing.append(rec.request_id)
            continue
        out.matched += 1
        times = truth["chunk_times"]
        starts = truth.get("chunk_started")
        ttft = (times[0] - truth["received_at"]) * 1000.0
        gaps = [(b - a) * 1000.0 for a, b in zip(times, times[1:])]
        out.ttft_ms.append(ttft)
        out.itl_ms.extend(gaps)
        if starts is not None and len(starts) == len(times) and out.ttft_lo_ms is not None:
            out.ttft_lo_ms.append((starts[0] - truth["received_at"]) * 1000.0)
            out.itl_lo_ms.extend((s - a) * 1000.0 for a, s in zip(times, starts[1:]))  # type: ignore[union-attr]
            out.write_us.extend((t - s) * 1e6 for s, t in zip(starts, times))  # type: ignore[union-attr]
        else:
            out.ttft_lo_ms = out.itl_lo_ms = out.write_us = None  # one record without: no bound at all
        if rec.ttft_ms is not None:
            out.ttft_errors_ms.append(rec.ttft_ms - ttft)
        if len(gaps) == len(rec.chunk_gaps_ms):
            out.itl_errors_ms.extend(c - s for c, s in zip(rec.chunk_gaps_ms, gaps))
        else:
            out.gap_count_mismatch += 1
    return out


def own_percentiles(records: list[Any]) -> dict[str, dict[str, float | None]]:
    """A client's own p50/p95 of TTFT and ITL over ``records`` (for the baseline, which has no report)."""
    ttft = [r.ttft_ms for r in records if r.ttft_ms is not None]
    itl = [g for r in records for g in r.chunk_gaps_ms]
    return {f"{name}_ms": {f"p{p}": (percentile(v, p) if v else None) for p in PERCENTILES}
            for name, v in (("ttft", ttft), ("itl", itl))}


def compare(reported: dict[str, dict[str, float | None]], truth: TruthSamples) -> list[Comparison]:
    """Reported p50/p95 (from the report JSON) against the same percentiles of the truth."""
    rows = []
    for metric, samples, lows in (("ttft", truth.ttft_ms, truth.ttft_lo_ms), ("itl", truth.itl_ms, truth.itl_lo_ms)):
        for p in PERCENTILES:
            value = reported[f"{metric}_ms"][f"p{p}"]
            if value is None or not samples:
                raise RuntimeError(f"no {metric} samples to compare (reported {value}, truth {len(samples)})")
            low = percentile(lows, p) if lows else None
            rows.append(Comparison(metric, p, float(value), percentile(samples, p), low))
    return rows


BURST_WINDOW_S = 0.001
BURST_BUCKETS = ((1, 8), (9, 32), (33, 64), (65, 128), (129, 10**9))


def chunk_lateness(records: list[Any], truth_by_id: dict[str, dict[str, Any]]) -> list[tuple[float, int]]:
    """(client read time - server write time in ms, server writes in the 1 ms before it) per chunk.

    The client's read times are rebuilt from its record (sent_at + TTFT +
    gaps, on its epoch-anchored clock); the server's are its own epoch
    stamps. Both processes run on this machine, so they share the clock.
    The burst count says how many chunks (of any stream) the server wrote
    at about the same moment, i.e. how many the single client event loop
    had to handle at once.
    """
    writes = sorted(t for truth in truth_by_id.values() for t in truth.get("chunk_times") or ())
    out: list[tuple[float, int]] = []
    for rec in records:
        truth = truth_by_id.get(rec.request_id)
        if truth is None or rec.ttft_ms is None or not truth.get("chunk_times"):
            continue
        server_times = truth["chunk_times"]
        if len(server_times) != len(rec.chunk_gaps_ms) + 1:
            continue
        read = rec.sent_at + rec.ttft_ms / 1000.0
        reads = [read]
        for gap in rec.chunk_gaps_ms:
            read += gap / 1000.0
            reads.append(read)
        for r, w in zip(reads, server_times):
            burst = bisect.bisect_right(writes, w) - bisect.bisect_left(writes, w - BURST_WINDOW_S)
            out.append(((r - w) * 1000.0, burst))
    return out


def lateness_by_burst(pairs: list[tuple[float, int]]) -> list[dict[str, Any]]:
    rows = []
    for low, high in BURST_BUCKETS:
        values = [late for late, burst in pairs if low <= burst <= high]
        if values:
            rows.append({"burst": f"{low}-{high}" if high < 10**9 else f">={low}", "chunks": len(values),
                         "p50_ms": percentile(values, 50), "p95_ms": percentile(values, 95),
                         "p99_ms": percentile(values, 99)})
    return rows


def spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"min": None, "p50": None, "p99": None, "max": None}
    return {"min": min(values), "p50": percentile(values, 50), "p99": percentile(values, 99), "max": max(values)}
