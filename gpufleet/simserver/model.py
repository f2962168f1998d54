"""Timing and continuous-batching model of one vLLM engine.

Pure: no I/O, no clock. The caller passes ``now`` (seconds on any monotonic
clock) and gets back the times at which things happen, so every rule here is
unit-testable with hand-computed numbers. ``engine.py`` drives it in real time.

The rules (formulas in docs/simserver.md):

* Admission: FIFO waiting queue; a request starts running when fewer than
  ``max_num_seqs`` run and the KV cache can reserve its whole sequence
  (prompt + max_tokens). No preemption.
* Prefill: one GPU "lane". A request admitted while the lane is idle is
  prefilled alone at once; requests admitted while it is busy form the next
  batch, which starts when the lane frees. The first token of every member
  comes at ``start + ttft_base + batch_prompt_tokens * prefill_per_token``.
* Decode: each running sequence gets one token per step; a step takes
  ``max(weights + kv_per_token * context_tokens, compute_per_seq * batch)``
  (memory/compute roofline), or a fixed ITL when one is configured.
* Jitter: every TTFT and every ITL is multiplied by a log-normal factor with
  mean 1 drawn from the request's own RNG; ``jitter=0`` makes it exactly 1.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["Timing", "Sequence", "Scheduler", "jitter_factor"]


@dataclass(frozen=True, slots=True)
class Timing:
    """Latency parameters of one engine, all in seconds."""

    ttft_base_s: float
    prefill_s_per_token: float
    weight_s: float
    kv_s_per_token: float
    compute_s_per_seq: float
    fixed_itl_s: float | None = None

    def step_time(self, context_tokens: int, batch: int) -> float:
        """Duration of one decode step for ``batch`` sequences holding
        ``context_tokens`` tokens of KV cache in total."""
        if self.fixed_itl_s is not None:
            return self.fixed_itl_s
        memory = self.weight_s + self.kv_s_per_token * context_tokens
        compute = self.compute_s_per_seq * batch
        return max(memory, compute)

    def prefill_time(self, prompt_tokens: int) -> float:
        """Lane time spent prefilling ``prompt_tokens`` tokens."""
        return prompt_tokens * self.prefill_s_per_token

    def overridden(self, ttft_s: float | None = None, itl_s: float | None = None) -> Timing:
        """A copy with a fixed TTFT (no prefill cost) and/or a fixed ITL."""
        timing = self
        if ttft_s is not None:
            timing = replace(timing, ttft_base_s=ttft_s, prefill_s_per_token=0.0)
        if itl_s is not None:
            timing = replace(timing, fixed_itl_s=itl_s)
        return timing


def jitter_factor(rng: random.Random, sigma: float) -> float:
    """Multiplicative noise with mean 1 (log-normal); exactly 1.0 when sigma is 0."""
    if sigma == 0:
        return 1.0
    return rng.lognormvariate(-sigma * sigma / 2.0, sigma)


@dataclass(slots=True, eq=False)
class Sequence:
    """One request as the scheduler sees it."""

    seq_no: int
    prompt_tokens: int
    max_tokens: int
    rng: random.Random
    arrived_at: float
    admitted_at: float | None = None
    first_token_at: float | None = None
    generated: int = 0
    payload: Any = None


@dataclass(slots=True, eq=False)
class _PrefillBatch:
    start: float
    tokens: int = 0
    members: list[Sequence] = field(default_factory=list)


class Scheduler:
    """FIFO admission, batched prefill lane and decode-step timing."""

    def __init__(
        self,
        timing: Timing,
        *,
        max_num_seqs: int,
        kv_capacity_tokens: int,
        jitter: float = 0.0,
    ) -> None:
        if max_num_seqs < 1:
            raise ValueError(f"max_num_seqs must be at least 1, got {max_num_seqs}")
        if kv_capacity_tokens < 1:
            raise ValueError(f"kv_capacity_tokens must be at least 1, got {kv_capacity_tokens}")
        if jitter < 0:
            raise ValueError(f"jitter must be >= 0, got {jitter}")
        self.timing = timing
        self.max_num_seqs = max_num_seqs
        self.kv_capacity_tokens = kv_capacity_tokens
        self.jitter = jitter
        self.waiting: deque[Sequence] = deque()
        self.running: set[Sequence] = set()
        self.context_tokens = 0
        self.reserved_tokens = 0
        self._lane_free_at = -math.inf
        self._open_batch: _PrefillBatch | None = None
        self._prefilled: list[Sequence] = []

    # -- admission -------------------------------------------------------
    def submit(self, seq: Sequence, now: float) -> None:
        """Queue a new request and admit whatever fits."""
        self.waiting.append(seq)
        self._admit(now)

    def finish(self, seq: Sequence, now: float) -> None:
        """Remove a request (done, failed or abandoned) and admit the next ones."""
        if seq in self.running:
            self.running.remove(seq)
            self.context_tokens -= seq.prompt_tokens + seq.generated
            self.reserved_tokens -= seq.prompt_tokens + seq.max_tokens
            batch = self._open_batch
            if batch is not None and seq in batch.members:
                batch.members.remove(seq)
                batch.tokens -= seq.prompt_tokens
                if not batch.members:
                    self._open_batch = None
        else:
            try:
                self.waiting.remove(seq)
            except ValueError:
                pass
        self._admit(now)

    def _admit(self, now: float) -> None:
        while self.waiting:
            head = self.waiting[0]
            need = head.prompt_tokens + head.max_tokens
            if len(self.running) >= self.max_num_seqs:
                return
            if self.running and self.reserved_tokens + need > self.kv_capacity_tokens:
                return
            self.waiting.popleft()
            self.running.add(head)
            self.reserved_tokens += need
            self.context_tokens += head.prompt_tokens
            head.admitted_at = now
            self._enqueue_prefill(head, now)

    # -- prefill lane ----------------------------------------------------
    def _enqueue_prefill(self, seq: Sequence, now: float) -> None:
        batch = self._open_batch
        if batch is None:
            batch = _PrefillBatch(start=max(now, self._lane_free_at))
            self._open_batch = batch
        batch.members.append(seq)
        batch.tokens += seq.prompt_tokens
        if batch.start <= now:
            self._close_batch()

    def _close_batch(self) -> None:
        batch = self._open_batch
        assert batch is not None
        self._open_batch = None
        timing = self.timing
        prefill = timing.prefill_time(batch.tokens)
        self._lane_free_at = batch.start + prefill
        for member in batch.members:
            ttft = (timing.ttft_base_s + prefill) * jitter_factor(member.rng, self.jitter)
            member.first_token_at = batch.start + ttft
        self._prefilled.extend(batch.members)

    def next_prefill_at(self) -> float | None:
        """When the open prefill batch starts (the caller must poll then)."""
        return None if self._open_batch is None else self._open_batch.start

    def take_prefilled(self, now: float) -> list[Sequence]:
        """Sequences whose ``first_token_at`` became known since the last call."""
        batch = self._open_batch
        if batch is not None and batch.start <= now:
            self._close_batch()
        done, self._prefilled = self._prefilled, []
        return done

    # -- decode ----------------------------------------------------------
    def decode_itls(self, seq: Sequence, n_tokens: int) -> list[float]:
        """Inter-token latencies of ``seq``'s next ``n_tokens`` tokens, sampled
        at the current batch size and KV-cache occupancy."""
        step = self.timing.step_time(self.context_tokens, len(self.running))
        if self.jitter == 0:
            return [step] * n_tokens
        rng = seq.rng
        return [step * jitter_factor(rng, self.jitter) for _ in range(n_tokens)]

    def add_generated(self, seq: Sequence, n_tokens: int) -> None:
        """Account ``n_tokens`` new tokens of ``seq`` in the KV cache."""
        seq.generated += n_tokens
        self.context_tokens += n_tokens

    @property
    def kv_cache_usage(self) -> float:
        """Fraction of KV-cache capacity holding live tokens (0..1)."""
        return min(1.0, self.context_tokens / self.kv_capacity_tokens)
