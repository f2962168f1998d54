"""Ground-truth log: what the server really did, for the accuracy benchmark.

Client-side latency measurements are only as good as their comparison with
what actually left the server. Each request gets a :class:`TruthRecord` with
wall-clock (``time.time()``) stamps taken right after each write completed
(``chunk_times``) and right before it started (``chunk_started``): the bytes
reached the client's socket somewhere between the two, so the pair is the
truth's own uncertainty. The log is a bounded ring so a long load test cannot
exhaust memory.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

__all__ = ["TruthRecord", "TruthLog"]


class TruthRecord:
    """Timeline and outcome of one completion request."""

    __slots__ = (
        "id", "seq", "endpoint", "stream", "received_at", "headers_sent_at",
        "chunk_times", "chunk_started", "chunk_tokens", "finished_at", "prompt_tokens",
        "completion_tokens", "max_tokens", "status", "outcome", "faults",
    )

    def __init__(self, request_id: str, seq: int, endpoint: str, received_at: float) -> None:
        self.id = request_id
        self.seq = seq
        self.endpoint = endpoint
        self.stream = False
        self.received_at = received_at
        self.headers_sent_at: float | None = None
        self.chunk_times: list[float] = []
        self.chunk_started: list[float] = []
        self.chunk_tokens: list[int] = []
        self.finished_at: float | None = None
        self.prompt_tokens: int | None = None
        self.completion_tokens = 0
        self.max_tokens: int | None = None
        self.status: int | None = None
        self.outcome = "in_progress"
        self.faults: dict[str, float | int] = {}

    def wrote(self, at: float, tokens: int, started: float | None = None) -> None:
        """A write carrying ``tokens`` tokens started at wall time ``started`` (``at`` if not
        known) and completed at ``at``."""
        self.chunk_times.append(at)
        self.chunk_started.append(at if started is None else started)
        self.chunk_tokens.append(tokens)
        self.completion_tokens += tokens

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "seq": self.seq,
            "endpoint": self.endpoint,
            "stream": self.stream,
            "received_at": self.received_at,
            "headers_sent_at": self.headers_sent_at,
            "first_token_at": self.chunk_times[0] if self.chunk_times else None,
            "chunk_times": list(self.chunk_times),
            "chunk_started": list(self.chunk_started),
            "chunk_tokens": list(self.chunk_tokens),
            "finished_at": self.finished_at,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "max_tokens": self.max_tokens,
            "status": self.status,
            "outcome": self.outcome,
            "faults": dict(self.faults),
        }


class TruthLog:
    """Ring buffer of the most recent ``capacity`` records, keyed by id."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"truth log capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._records: OrderedDict[str, TruthRecord] = OrderedDict()

    def add(self, record: TruthRecord) -> None:
        """Store ``record``; a reused id replaces the older record."""
        self._records.pop(record.id, None)
        self._records[record.id] = record
        while len(self._records) > self.capacity:
            self._records.popitem(last=False)

    def get(self, request_id: str) -> TruthRecord | None:
        return self._records.get(request_id)

    def records(self) -> list[TruthRecord]:
        """Records in arrival order, oldest first."""
        return list(self._records.values())

    def clear(self) -> int:
        """Forget everything; returns how many records were dropped."""
        dropped = len(self._records)
        self._records.clear()
        return dropped

    def __len__(self) -> int:
        return len(self._records)
