"""Ground-truth ring buffer."""

from __future__ import annotations

import pytest

from gpufleet.simserver.truth import TruthLog, TruthRecord


def test_record_accumulates_writes() -> None:
    r = TruthRecord("req-1", 0, "chat", received_at=100.0)
    r.wrote(100.2, 1, started=100.19)
    r.wrote(100.3, 4)
    d = r.as_dict()
    assert d["first_token_at"] == 100.2
    assert (d["chunk_times"], d["chunk_tokens"], d["completion_tokens"]) == ([100.2, 100.3], [1, 4], 5)
    assert d["chunk_started"] == [100.19, 100.3]  # a write without a start stamp is a point
    assert (d["id"], d["seq"], d["endpoint"], d["outcome"]) == ("req-1", 0, "chat", "in_progress")


def test_ring_keeps_the_newest_records() -> None:
    log = TruthLog(3)
    for i in range(5):
        log.add(TruthRecord(f"r{i}", i, "chat", float(i)))
    assert [r.id for r in log.records()] == ["r2", "r3", "r4"]
    assert log.get("r0") is None and log.get("r4") is not None


def test_reused_id_replaces_the_older_record() -> None:
    log = TruthLog(3)
    log.add(TruthRecord("same", 0, "chat", 0.0))
    log.add(TruthRecord("other", 1, "chat", 1.0))
    log.add(TruthRecord("same", 2, "completions", 2.0))
    assert [(r.id, r.seq) for r in log.records()] == [("other", 1), ("same", 2)]


def test_clear_reports_how_many_were_dropped() -> None:
    log = TruthLog(10)
    for i in range(4):
        log.add(TruthRecord(f"r{i}", i, "chat", 0.0))
    assert log.clear() == 4
    assert len(log) == 0


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError) as err:
        TruthLog(0)
    assert str(err.value) == "truth log capacity must be at least 1, got 0"
