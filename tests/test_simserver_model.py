"""The pure timing / continuous-batching model, on hand-computed cases."""

from __future__ import annotations

import random
import statistics

import pytest

from gpufleet.simserver.model import Scheduler, Sequence, Timing, jitter_factor

FIXED = Timing(
    ttft_base_s=0.1, prefill_s_per_token=0.0, weight_s=0.0, kv_s_per_token=0.0,
    compute_s_per_seq=0.0, fixed_itl_s=0.01,
)
# Roofline-style timing: 20 ms weights, 10 us per KV token, 1 ms compute per sequence.
ROOF = Timing(
    ttft_base_s=0.01, prefill_s_per_token=0.001, weight_s=0.02, kv_s_per_token=1e-5,
    compute_s_per_seq=0.001,
)


def seq(no: int, prompt: int = 10, max_tokens: int = 5, at: float = 0.0) -> Sequence:
    return Sequence(no, prompt, max_tokens, random.Random(no), at)


def test_step_time_is_memory_bound_at_small_batches() -> None:
    assert ROOF.step_time(context_tokens=100, batch=1) == pytest.approx(0.021)
    assert ROOF.step_time(context_tokens=10 * 1000, batch=10) == pytest.approx(0.12)


def test_step_time_becomes_compute_bound_at_large_batches() -> None:
    # memory: 0.02 + 1000 * 1e-5 = 0.03 s; compute: 100 * 0.001 = 0.1 s
    assert ROOF.step_time(context_tokens=1000, batch=100) == pytest.approx(0.1)


def test_itl_grows_with_batch_size() -> None:
    itls = [ROOF.step_time(context_tokens=b * 500, batch=b) for b in (1, 8, 64, 256)]
    assert itls == pytest.approx([0.025, 0.06, 0.34, 1.3])
    assert itls == sorted(itls)


def test_fixed_itl_ignores_batch_and_context() -> None:
    assert FIXED.step_time(10**6, 500) == 0.01


def test_overridden_fixes_ttft_and_itl() -> None:
    t = ROOF.overridden(ttft_s=0.2, itl_s=0.03)
    assert (t.ttft_base_s, t.prefill_s_per_token, t.fixed_itl_s) == (0.2, 0.0, 0.03)
    assert t.step_time(10**6, 999) == 0.03
    assert ROOF.overridden() == ROOF


def test_jitter_zero_is_exactly_one() -> None:
    rng = random.Random(1)
    assert {jitter_factor(rng, 0.0) for _ in range(100)} == {1.0}


def test_jitter_has_mean_one_and_is_seeded() -> None:
    draws = [jitter_factor(random.Random(3), 0.2) for _ in range(3)]
    assert draws[0] == draws[1] == draws[2]
    rng = random.Random(7)
    values = [jitter_factor(rng, 0.2) for _ in range(20000)]
    assert statistics.fmean(values) == pytest.approx(1.0, abs=0.01)
    assert min(values) > 0


def test_ttft_includes_waiting_for_a_free_slot() -> None:
    s = Scheduler(FIXED, max_num_seqs=2, kv_capacity_tokens=10**6)
    a, b, c = seq(0), seq(1), seq(2)
    for x in (a, b, c):
        s.submit(x, now=0.0)
    assert (len(s.running), len(s.waiting)) == (2, 1)
    assert s.take_prefilled(0.0) == [a, b]
    assert (a.first_token_at, b.first_token_at) == (0.1, 0.1)
    assert c.admitted_at is None
    s.finish(a, now=0.5)
    assert s.take_prefilled(0.5) == [c]
    assert c.admitted_at == 0.5
    assert c.first_token_at == pytest.approx(0.6)  # 0.5 s queued + 0.1 s TTFT


def test_waiting_queue_is_fifo() -> None:
    s = Scheduler(FIXED, max_num_seqs=1, kv_capacity_tokens=10**6)
    seqs = [seq(i) for i in range(4)]
    for x in seqs:
        s.submit(x, 0.0)
    assert s.take_prefilled(0.0) == [seqs[0]]
    order = []
    for t in (1.0, 2.0, 3.0):
        (running,) = s.running
        s.finish(running, t)
        order += s.take_prefilled(t)
    assert order == seqs[1:]
    assert [x.admitted_at for x in seqs] == [0.0, 1.0, 2.0, 3.0]


def test_kv_capacity_limits_admission() -> None:
    s = Scheduler(FIXED, max_num_seqs=10, kv_capacity_tokens=1000)
    a, b = seq(0, prompt=300, max_tokens=300), seq(1, prompt=300, max_tokens=300)
    s.submit(a, 0.0)
    s.submit(b, 0.0)
    assert (len(s.running), len(s.waiting), s.reserved_tokens) == (1, 1, 600)
    s.finish(a, 1.0)
    assert b.admitted_at == 1.0


def test_oversized_request_runs_alone() -> None:
    s = Scheduler(FIXED, max_num_seqs=10, kv_capacity_tokens=100)
    big = seq(0, prompt=90, max_tokens=50)
    s.submit(big, 0.0)
    assert big in s.running


def test_prefill_batches_form_while_the_lane_is_busy() -> None:
    s = Scheduler(ROOF, max_num_seqs=10, kv_capacity_tokens=10**6)
    a, b, c = seq(0, prompt=100, at=0.0), seq(1, prompt=200, at=0.02), seq(2, prompt=300, at=0.05)
    s.submit(a, 0.0)
    assert s.take_prefilled(0.0) == [a]
    assert a.first_token_at == pytest.approx(0.0 + 0.01 + 0.1)
    s.submit(b, 0.02)
    assert s.next_prefill_at() == pytest.approx(0.1)  # lane busy with a's 100 tokens
    assert s.take_prefilled(0.02) == []
    s.submit(c, 0.05)
    assert s.take_prefilled(0.099) == []
    assert s.take_prefilled(0.1) == [b, c]
    # one batch of 500 tokens: start 0.1 + base 0.01 + 500 * 1 ms
    assert b.first_token_at == pytest.approx(0.61)
    assert c.first_token_at == pytest.approx(0.61)
    assert s.next_prefill_at() is None


def test_abandoned_member_leaves_its_prefill_batch() -> None:
    s = Scheduler(ROOF, max_num_seqs=10, kv_capacity_tokens=10**6)
    a, b, c = seq(0, prompt=100), seq(1, prompt=200), seq(2, prompt=300)
    s.submit(a, 0.0)
    assert s.take_prefilled(0.0) == [a]
    s.submit(b, 0.01)
    s.submit(c, 0.01)
    s.finish(b, 0.02)
    assert s.take_prefilled(0.1) == [c]
    assert c.first_token_at == pytest.approx(0.1 + 0.01 + 0.3)


def test_decode_itls_follow_batch_and_context() -> None:
    s = Scheduler(ROOF, max_num_seqs=10, kv_capacity_tokens=10**6)
    seqs = [seq(i, prompt=1000, max_tokens=10) for i in range(4)]
    for x in seqs:
        s.submit(x, 0.0)
    # 4 running, 4000 context tokens: 0.02 + 4000 * 1e-5 = 0.06 s per step
    assert s.decode_itls(seqs[0], 3) == pytest.approx([0.06, 0.06, 0.06])
    s.add_generated(seqs[0], 1000)
    assert s.context_tokens == 5000
    assert s.decode_itls(seqs[0], 1) == pytest.approx([0.07])
    assert s.kv_cache_usage == pytest.approx(5000 / 10**6)


def test_decode_itls_with_jitter_are_reproducible() -> None:
    def itls(seed: int) -> list[float]:
        s = Scheduler(FIXED, max_num_seqs=1, kv_capacity_tokens=100, jitter=0.3)
        x = Sequence(0, 1, 5, random.Random(seed), 0.0)
        s.submit(x, 0.0)
        return s.decode_itls(x, 5)

    assert itls(4) == itls(4)
    assert itls(4) != itls(5)
    assert all(v > 0 for v in itls(4))


def test_finish_frees_context_and_reservation() -> None:
    s = Scheduler(FIXED, max_num_seqs=4, kv_capacity_tokens=10**6)
    a = seq(0, prompt=50, max_tokens=20)
    s.submit(a, 0.0)
    s.add_generated(a, 7)
    assert (s.context_tokens, s.reserved_tokens) == (57, 70)
    s.finish(a, 1.0)
    assert (s.context_tokens, s.reserved_tokens, len(s.running)) == (0, 0, 0)


def test_finish_of_a_waiting_request_drops_it() -> None:
    s = Scheduler(FIXED, max_num_seqs=1, kv_capacity_tokens=10**6)
    a, b = seq(0), seq(1)
    s.submit(a, 0.0)
    s.submit(b, 0.0)
    s.finish(b, 0.1)
    assert list(s.waiting) == [] and s.running == {a}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_num_seqs": 0, "kv_capacity_tokens": 10}, "max_num_seqs must be at least 1, got 0"),
        ({"max_num_seqs": 1, "kv_capacity_tokens": 0}, "kv_capacity_tokens must be at least 1, got 0"),
        ({"max_num_seqs": 1, "kv_capacity_tokens": 1, "jitter": -0.1}, "jitter must be >= 0, got -0.1"),
    ],
)
def test_scheduler_rejects_bad_limits(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError) as err:
        Scheduler(FIXED, **kwargs)  # type: ignore[arg-type]
    assert str(err.value) == message
