"""Per-process record keeping (workers) and run-wide aggregation (master).

Each load-generating process (a Locust worker, or the single process of a
local run) keeps a `ProcessState`: its raw records, how many of its drivers
are still running, its health samples. It ships records to the master in
batches over Locust's custom messages (`MESSAGE`), and a final batch marked
`done` once its schedule is over and every request it sent has ended. The
master's `Aggregator` merges batches and knows the run is complete when every
expected process has said `done`; counts therefore add up exactly (the e2e
tests compare them with the requests the server saw).
"""

from __future__ import annotations

import itertools
import math
import uuid
from typing import Any

from common.health import HealthMonitor
from common.options import RunOptions
from common.timing import CLOCK, Clock
from gpufleet.loadtest.rawrun import DRAIN_MARGIN_S, ProcessSummary, RawRun
from gpufleet.loadtest.records import Outcome, RequestRecord

MESSAGE = "gpufleet_records"


class ProcessState:
    """One process's share of a run."""

    def __init__(self, name: str, options: RunOptions, started_at: float, *, clock: Clock = CLOCK,
                 health: HealthMonitor | None = None) -> None:
        self.name = name
        self.options = options
        self.started_at = started_at
        self.clock = clock
        self.health = health if health is not None else HealthMonitor(clock=clock)
        self.window_end = started_at + options.warmup_s + options.duration_s if options.bounded else None
        self.give_up_at = (
            None if self.window_end is None else self.window_end + options.timeout_s + DRAIN_MARGIN_S
        )
        self.run_id = options.run_id or uuid.uuid4().hex[:8]
        self.model = options.model
        self.errors: list[str] = []
        self.unsent: list[float] = []
        self.cap_waits = 0
        self.users = 0
        self.active = 0
        self.records_total = 0
        self.final_shipped = False
        self._pending: list[RequestRecord] = []
        self._seq = itertools.count(1)

    def accepting(self) -> bool:
        """Whether drivers may still start requests (before the end of the measured window)."""
        return self.window_end is None or self.clock.now() < self.window_end

    def next_request_id(self) -> str:
        return f"{self.run_id}-{self.name}-{next(self._seq)}"

    def add(self, record: RequestRecord) -> None:
        self._pending.append(record)
        self.records_total += 1

    def driver_started(self) -> int:
        """Register a user/dispatcher; returns its index within this process."""
        self.users += 1
        self.active += 1
        return self.users - 1

    def driver_finished(self) -> None:
        self.active -= 1

    def finished(self) -> bool:
        """The schedule is over and no driver is still waiting on a request."""
        if self.window_end is None:
            return False
        now = self.clock.now()
        return now >= self.window_end and (self.active == 0 or now >= self.give_up_at + 1.0)

    def take_rows(self) -> list[list[Any]]:
        rows = [r.to_row() for r in self._pending]
        self._pending = []
        return rows

    def summary(self, done: bool) -> ProcessSummary:
        return ProcessSummary(
            process=self.name,
            users=self.users,
            unsent=tuple(self.unsent),
            cpu=tuple(self.health.cpu),
            loop_lag_ms=tuple(self.health.loop_lag_ms),
            cap_waits=self.cap_waits,
            done=done,
            errors=tuple(self.errors),
        )

    def payload(self, done: bool, *, local: bool = False) -> dict[str, Any]:
        """One message to the master: new records plus the latest summary.

        `local`: for the aggregator in this same process, records and the summary are handed over
        as objects (no encoding and decoding; the summary's samples grow all run long)."""
        if done:
            self.final_shipped = True
        summary = self.summary(done)
        if local:
            records, self._pending = self._pending, []
            return {"process": self.name, "records": records, "summary": summary, "done": done,
                    "model": self.model}
        return {"process": self.name, "rows": self.take_rows(), "summary": summary.to_dict(), "done": done,
                "model": self.model}


class Aggregator:
    """The master's view: every process's records and summary, and whether all are done."""

    def __init__(self, expected: set[str], options: RunOptions, started_at: float, target: str) -> None:
        self.expected = set(expected)
        self.options = options
        self.started_at = started_at
        self.target = target
        self.model = options.model
        self.records: list[RequestRecord] = []
        self.summaries: dict[str, ProcessSummary] = {}
        self.done: set[str] = set()
        self.problems: list[str] = []
        self.finalized = False

    def receive(self, node: str, payload: dict[str, Any]) -> None:
        """Merge one message; a malformed one is kept as a problem (the run becomes incomplete)."""
        try:
            if "records" in payload:  # same process (a local run): already records and a summary
                new = list(payload["records"])
                summary = payload["summary"]
                if not isinstance(summary, ProcessSummary):
                    raise TypeError(f"a local batch carries a ProcessSummary, not {type(summary).__name__}")
            else:
                new = [RequestRecord.from_row(row) for row in payload["rows"]]
                summary = ProcessSummary.from_dict(payload["summary"])
        except (KeyError, TypeError, ValueError) as exc:
            self.problems.append(f"bad batch from {node}: {exc!r}")
            return
        self.records.extend(new)
        self.summaries[node] = summary
        if payload.get("model") and not self.model:
            self.model = str(payload["model"])
        if payload.get("done"):
            self.done.add(node)

    @property
    def all_done(self) -> bool:
        return bool(self.expected) and self.expected <= self.done

    def missing(self) -> list[str]:
        return sorted(self.expected - self.done)

    def raw_run(self, *, reason: str = "") -> RawRun:
        """The run so far; complete only if every expected process is done and nothing went wrong."""
        problems = list(self.problems)
        for summary in self.summaries.values():
            problems.extend(f"{summary.process}: {e}" for e in summary.errors)
        if not self.all_done:
            problems.append(reason or f"processes not finished: {', '.join(self.missing()) or 'none expected'}")
        options = self.options
        return RawRun(
            run_id=options.run_id,
            target=self.target,
            model=self.model,
            workload=options.workload,
            mode="open" if options.open_loop else "closed",
            users=None if options.open_loop else sum(s.users for s in self.summaries.values()),
            rate=options.rate if options.open_loop else None,
            warmup_s=options.warmup_s,
            duration_s=options.duration_s,
            max_in_flight=options.max_in_flight,
            seed=options.seed,
            started_at=self.started_at,
            complete=not problems,
            incomplete_reason="; ".join(problems),
            processes=tuple(sorted(self.summaries.values(), key=lambda s: s.process)),
            records=tuple(sorted(self.records, key=lambda r: r.scheduled_at)),
        )

    def progress(self, now: float) -> dict[str, Any]:
        elapsed = now - self.started_at
        options = self.options
        if elapsed < options.warmup_s:
            phase = "warmup"
        elif not options.bounded or elapsed < options.warmup_s + options.duration_s:
            phase = "measure"
        else:
            phase = "drain"
        failed = sum(1 for r in self.records if r.failed)
        return {
            "elapsed_s": round(elapsed, 3),
            "phase": phase,
            "records": len(self.records),
            "ok": sum(1 for r in self.records if r.outcome is Outcome.OK),
            "failed": failed,
            "processes_done": len(self.done & self.expected),
            "processes": len(self.expected),
            "ttft_p95_ms": self.live_ttft_p95(),
        }

    def live_ttft_p95(self) -> float | None:
        """Nearest-rank p95 TTFT of the successful requests so far (the measured window's once it began)."""
        window_start = self.started_at + self.options.warmup_s
        ttfts = [r.ttft_ms for r in self.records if r.ok and r.ttft_ms is not None]
        measured = [r.ttft_ms for r in self.records
                    if r.ok and r.ttft_ms is not None and r.scheduled_at >= window_start]
        sample = sorted(measured or ttfts)
        if not sample:
            return None
        return round(sample[math.ceil(0.95 * len(sample)) - 1], 3)
