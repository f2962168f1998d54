"""Fault planning: reproducible per request, positions always mid-stream."""

from __future__ import annotations

import random

import pytest

from gpufleet.simserver.faults import (
    NO_FAULTS,
    FaultConfig,
    FaultPlan,
    chunk_count,
    plan_faults,
)


@pytest.mark.parametrize(
    ("tokens", "per_chunk", "chunks"),
    [(1, 1, 1), (5, 1, 5), (5, 2, 3), (6, 4, 3), (10, 3, 4), (128, 128, 2)],
)
def test_chunk_count_sends_the_first_token_alone(tokens: int, per_chunk: int, chunks: int) -> None:
    assert chunk_count(tokens, per_chunk) == chunks


def test_no_rates_means_no_faults() -> None:
    for seed in range(50):
        assert plan_faults(random.Random(seed), FaultConfig(), 20, 1) == NO_FAULTS


def test_plans_are_reproducible_from_the_seed() -> None:
    config = FaultConfig(error_rate=0.2, stall_rate=0.3, disconnect_rate=0.3, malformed_rate=0.3)
    first = [plan_faults(random.Random(f"s:{i}"), config, 30, 2) for i in range(40)]
    again = [plan_faults(random.Random(f"s:{i}"), config, 30, 2) for i in range(40)]
    assert first == again
    assert any(p.error_status for p in first) and any(p.stall_after_token for p in first)


def test_rate_one_errors_every_request_with_500_or_503() -> None:
    config = FaultConfig(error_rate=1.0, stall_rate=1.0)
    plans = [plan_faults(random.Random(i), config, 10, 1) for i in range(60)]
    assert {p.error_status for p in plans} == {500, 503}
    assert all(p.stall_after_token is None for p in plans)  # an error replaces everything else


def test_fault_positions_are_mid_stream() -> None:
    config = FaultConfig(stall_rate=1.0, stall_ms=250, disconnect_rate=1.0, malformed_rate=1.0)
    for seed in range(200):
        plan = plan_faults(random.Random(seed), config, 9, 4)  # chunks: 1 + 4 + 4
        assert plan.stall_after_token is not None and 1 <= plan.stall_after_token <= 8
        assert plan.stall_s == 0.25
        assert plan.disconnect_after_chunk in (1, 2, 3)
        assert plan.malformed_after_chunk in (1, 2, 3)


def test_single_token_requests_cannot_stall() -> None:
    plan = plan_faults(random.Random(1), FaultConfig(stall_rate=1.0), 1, 1)
    assert plan.stall_after_token is None and plan.stall_s == 0.0


def test_describe_lists_only_injected_faults() -> None:
    assert NO_FAULTS.describe() == {}
    plan = FaultPlan(stall_after_token=3, stall_s=0.5, malformed_after_chunk=2)
    assert plan.describe() == {"stall_after_token": 3, "stall_ms": 500.0, "malformed_after_chunk": 2}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"error_rate": 1.5}, "error_rate must be between 0 and 1, got 1.5"),
        ({"malformed_rate": -0.1}, "malformed_rate must be between 0 and 1, got -0.1"),
        ({"stall_ms": -1}, "stall_ms must be >= 0, got -1"),
    ],
)
def test_fault_config_validation(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError) as err:
        FaultConfig(**kwargs)
    assert str(err.value) == message


def test_chunk_count_validation() -> None:
    with pytest.raises(ValueError) as err:
        chunk_count(0, 1)
    assert str(err.value) == "n_tokens must be at least 1, got 0"
    with pytest.raises(ValueError) as err:
        chunk_count(3, 0)
    assert str(err.value) == "tokens_per_chunk must be at least 1, got 0"
