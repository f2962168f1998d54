"""Load profiles: Poisson arrivals, open-loop firing on schedule, the in-flight cap, closed loops."""

from __future__ import annotations

import random
import statistics

import gevent
import pytest

from common.profiles import OpenLoop, arrivals_until, closed_loop, poisson_arrivals
from common.timing import CLOCK


def test_poisson_gaps_have_mean_one_over_rate_and_are_seeded():
    offsets = arrivals_until(50.0, random.Random("s"), 200.0)
    gaps = [b - a for a, b in zip([0.0] + offsets, offsets)]
    assert 9_700 <= len(offsets) <= 10_300
    assert statistics.mean(gaps) == pytest.approx(0.02, rel=0.03)
    assert statistics.pstdev(gaps) == pytest.approx(0.02, rel=0.05)  # exponential: sd == mean
    first_second = arrivals_until(50.0, random.Random("s"), 1.0)
    assert first_second == offsets[: len(first_second)]
    with pytest.raises(ValueError, match=r"^arrival rate must be > 0 per second, got 0$"):
        next(poisson_arrivals(0, random.Random()))


def run_open(rate: float, horizon: float, *, max_in_flight: int = 64, work: float = 0.0, give_up: float | None = None,
             seed: str = "x"):
    fired: list[tuple[float, float]] = []

    def fire(payload, scheduled_at):
        fired.append((scheduled_at, CLOCK.now()))
        gevent.sleep(work)

    start = CLOCK.now() + 0.05
    loop = OpenLoop(fire, lambda: None, poisson_arrivals(rate, random.Random(seed)), start=start,
                    end=start + horizon, max_in_flight=max_in_flight,
                    give_up_at=None if give_up is None else start + give_up)
    loop.run()
    return loop, fired, start


def test_the_open_loop_fires_every_arrival_on_time_regardless_of_slow_requests():
    loop, fired, start = run_open(80.0, 0.5, work=0.3)  # each request outlives many later arrivals
    planned = [start + t for t in arrivals_until(80.0, random.Random("x"), 0.5)]
    assert [s for s, _ in fired] == planned
    lateness_ms = sorted((sent - scheduled) * 1000 for scheduled, sent in fired)
    assert lateness_ms[0] >= 0 and lateness_ms[int(len(lateness_ms) * 0.9)] < 30
    assert (loop.cap_waits, loop.unsent) == (0, [])


def test_a_full_in_flight_cap_makes_arrivals_wait_and_counts_it():
    loop, fired, _ = run_open(200.0, 0.1, max_in_flight=1, work=0.05, seed="cap")
    assert loop.cap_waits == len(fired) - 1 > 3
    assert max(sent - scheduled for scheduled, sent in fired) > 0.1  # they left late, and it is recorded


def test_arrivals_still_waiting_at_give_up_time_are_listed_unsent_and_in_flight_ones_killed():
    killed = []

    def fire(payload, scheduled_at):
        try:
            gevent.sleep(5)
        except gevent.GreenletExit:
            killed.append(scheduled_at)
            raise

    start = CLOCK.now()
    planned = [start + t for t in arrivals_until(50.0, random.Random("g"), 1.0)]
    loop = OpenLoop(fire, lambda: None, poisson_arrivals(50.0, random.Random("g")), start=start, end=start + 1.0,
                    max_in_flight=2, give_up_at=start + 0.3)
    loop.run()
    assert sorted(killed) == planned[:2]
    assert loop.unsent == planned[2:]
    assert loop.cap_waits == 1


def test_killing_the_dispatcher_kills_its_requests():
    killed = []

    def fire(payload, scheduled_at):
        try:
            gevent.sleep(5)
        except gevent.GreenletExit:
            killed.append(payload)
            raise

    counter = iter(range(1000))
    start = CLOCK.now()
    loop = OpenLoop(fire, lambda: next(counter), poisson_arrivals(100.0, random.Random(1)), start=start, end=None,
                    max_in_flight=100, give_up_at=None)
    dispatcher = gevent.spawn(loop.run)
    gevent.sleep(0.2)
    dispatcher.kill()
    assert len(killed) >= 5 and sorted(killed) == list(range(len(killed)))


def test_the_closed_loop_sends_back_to_back_until_told_to_stop():
    sent = []
    closed_loop(sent.append, lambda: len(sent) < 5)
    assert sent == [None] * 5
