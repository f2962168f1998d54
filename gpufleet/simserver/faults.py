"""Fault injection: decide, per request and reproducibly, what goes wrong.

The plan is drawn from the request's own RNG (seeded from the server seed and
the request's sequence number) with a fixed number of draws, so the same
seed, rates and request order always give the same faults, whatever the
timing or jitter settings.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["FaultConfig", "FaultPlan", "plan_faults"]


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Probabilities (0..1) of each fault kind, and the stall length."""

    error_rate: float = 0.0
    stall_rate: float = 0.0
    stall_ms: float = 1000.0
    disconnect_rate: float = 0.0
    malformed_rate: float = 0.0

    def __post_init__(self) -> None:
        for name in ("error_rate", "stall_rate", "disconnect_rate", "malformed_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.stall_ms < 0:
            raise ValueError(f"stall_ms must be >= 0, got {self.stall_ms}")


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """What happens to one request; ``None`` fields mean "not this fault".

    * ``error_status``: answer 500 or 503 with a JSON error, nothing else.
    * ``stall_after_token``: pause ``stall_s`` between token k and k+1 (k >= 1).
    * ``disconnect_after_chunk``: close the connection right after the k-th
      token-carrying chunk (k >= 1), without the rest, usage or ``[DONE]``.
    * ``malformed_after_chunk``: emit a non-JSON ``data:`` line right after
      the k-th token-carrying chunk; the stream then goes on normally.
    """

    error_status: int | None = None
    stall_after_token: int | None = None
    stall_s: float = 0.0
    disconnect_after_chunk: int | None = None
    malformed_after_chunk: int | None = None

    def describe(self) -> dict[str, float | int]:
        """The injected faults as a JSON-ready dict (empty when none)."""
        out: dict[str, float | int] = {}
        if self.error_status is not None:
            out["error_status"] = self.error_status
        if self.stall_after_token is not None:
            out["stall_after_token"] = self.stall_after_token
            out["stall_ms"] = self.stall_s * 1000.0
        if self.disconnect_after_chunk is not None:
            out["disconnect_after_chunk"] = self.disconnect_after_chunk
        if self.malformed_after_chunk is not None:
            out["malformed_after_chunk"] = self.malformed_after_chunk
        return out


NO_FAULTS = FaultPlan()


def chunk_count(n_tokens: int, tokens_per_chunk: int) -> int:
    """Token-carrying chunks of a stream: the first token alone, then groups."""
    if n_tokens < 1:
        raise ValueError(f"n_tokens must be at least 1, got {n_tokens}")
    if tokens_per_chunk < 1:
        raise ValueError(f"tokens_per_chunk must be at least 1, got {tokens_per_chunk}")
    return 1 + -(-(n_tokens - 1) // tokens_per_chunk)


def plan_faults(
    rng: random.Random, config: FaultConfig, n_tokens: int, tokens_per_chunk: int
) -> FaultPlan:
    """Draw a request's faults (always eight draws, in a fixed order)."""
    chunks = chunk_count(n_tokens, tokens_per_chunk)
    u = [rng.random() for _ in range(8)]
    if u[0] < config.error_rate:
        return FaultPlan(error_status=500 if u[1] < 0.5 else 503)
    stall_after = None
    if n_tokens >= 2 and u[2] < config.stall_rate:
        stall_after = 1 + int(u[3] * (n_tokens - 1))
    disconnect_after = None
    if u[4] < config.disconnect_rate:
        disconnect_after = 1 + int(u[5] * chunks)
    malformed_after = None
    if u[6] < config.malformed_rate:
        malformed_after = 1 + int(u[7] * chunks)
    return FaultPlan(
        stall_after_token=stall_after,
        stall_s=config.stall_ms / 1000.0 if stall_after is not None else 0.0,
        disconnect_after_chunk=disconnect_after,
        malformed_after_chunk=malformed_after,
    )
