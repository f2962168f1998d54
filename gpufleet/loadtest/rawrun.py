"""The raw result of one Locust run: settings, every record, per-process health.

This is the contract between the Locust master (which writes it, see
`loadtests/common/collector.py`) and everything that judges a run (stats,
gate, reports, `gpufleet loadtest --from-run`). It holds raw data only; no
statistic is computed before it is written, so a run can be re-judged later.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gpufleet.loadtest.records import RequestRecord

FORMAT_VERSION = 1
# After the measured window ends, a process waits up to the request timeout plus this margin
# for its in-flight requests before it abandons them (they are then recorded as cancelled).
DRAIN_MARGIN_S = 5.0


@dataclass(frozen=True)
class ProcessSummary:
    """What one load-generator process knows beyond its records.

    `unsent` holds the planned send times of open-loop arrivals that were never
    sent (the run ended first), so that the achieved rate can be compared with
    the schedule. `cpu` and `loop_lag_ms` are (epoch time, value) samples.
    """

    process: str
    users: int = 0
    unsent: tuple[float, ...] = ()
    cpu: tuple[tuple[float, float], ...] = ()  # fraction of one core per interval
    loop_lag_ms: tuple[tuple[float, float], ...] = ()  # gevent loop lateness
    cap_waits: int = 0  # open-loop arrivals that waited for a free in-flight slot
    done: bool = False  # the process finished its schedule and shipped everything
    errors: tuple[str, ...] = ()  # harness problems seen by the process (e.g. model discovery failed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "process": self.process,
            "users": self.users,
            "unsent": list(self.unsent),
            "cpu": [list(s) for s in self.cpu],
            "loop_lag_ms": [list(s) for s in self.loop_lag_ms],
            "cap_waits": self.cap_waits,
            "done": self.done,
            "errors": list(self.errors),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProcessSummary:
        return cls(
            process=str(data["process"]),
            users=int(data.get("users", 0)),
            unsent=tuple(float(t) for t in data.get("unsent", ())),
            cpu=tuple((float(t), float(v)) for t, v in data.get("cpu", ())),
            loop_lag_ms=tuple((float(t), float(v)) for t, v in data.get("loop_lag_ms", ())),
            cap_waits=int(data.get("cap_waits", 0)),
            done=bool(data.get("done", False)),
            errors=tuple(str(e) for e in data.get("errors", ())),
        )


@dataclass(frozen=True)
class RawRun:
    """Settings, records and process summaries of one run (open or closed loop)."""

    run_id: str
    target: str
    model: str
    workload: str
    mode: str  # "closed" (fixed users) or "open" (Poisson arrivals at `rate`)
    users: int | None
    rate: float | None
    warmup_s: float
    duration_s: float
    max_in_flight: int
    seed: int
    started_at: float  # epoch seconds when the master started the test
    complete: bool  # every process reported done before the run ended
    incomplete_reason: str = ""
    processes: tuple[ProcessSummary, ...] = ()
    records: tuple[RequestRecord, ...] = field(default=(), repr=False)

    @property
    def window(self) -> tuple[float, float]:
        """The measurement window [start, end) in epoch seconds: after warm-up, `duration_s` long."""
        start = self.started_at + self.warmup_s
        return start, start + self.duration_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "run_id": self.run_id,
            "target": self.target,
            "model": self.model,
            "workload": self.workload,
            "mode": self.mode,
            "users": self.users,
            "rate": self.rate,
            "warmup_s": self.warmup_s,
            "duration_s": self.duration_s,
            "max_in_flight": self.max_in_flight,
            "seed": self.seed,
            "started_at": self.started_at,
            "complete": self.complete,
            "incomplete_reason": self.incomplete_reason,
            "processes": [p.to_dict() for p in self.processes],
            "records": [r.to_row() for r in self.records],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RawRun:
        """Parse a run document; raises ValueError naming the problem."""
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"unsupported run format {data.get('format')!r}, expected {FORMAT_VERSION}")
        if data.get("mode") not in ("closed", "open"):
            raise ValueError(f"run mode must be 'closed' or 'open', got {data.get('mode')!r}")
        started_at = float(data["started_at"])
        if not math.isfinite(started_at):
            raise ValueError("run started_at is not a finite number")
        return cls(
            run_id=str(data["run_id"]),
            target=str(data["target"]),
            model=str(data["model"]),
            workload=str(data["workload"]),
            mode=data["mode"],
            users=None if data.get("users") is None else int(data["users"]),
            rate=None if data.get("rate") is None else float(data["rate"]),
            warmup_s=float(data["warmup_s"]),
            duration_s=float(data["duration_s"]),
            max_in_flight=int(data["max_in_flight"]),
            seed=int(data["seed"]),
            started_at=started_at,
            complete=bool(data["complete"]),
            incomplete_reason=str(data.get("incomplete_reason", "")),
            processes=tuple(ProcessSummary.from_dict(p) for p in data.get("processes", ())),
            records=tuple(RequestRecord.from_row(r) for r in data.get("records", ())),
        )


def write_run(run: RawRun, path: Path) -> None:
    """Write atomically, so a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(run.to_dict(), separators=(",", ":")), encoding="utf-8")
    tmp.replace(path)


def read_run(path: Path) -> RawRun:
    """Read a run file; raises ValueError (bad content) or OSError (unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    try:
        return RawRun.from_dict(data)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: malformed run document: {exc!r}") from exc
