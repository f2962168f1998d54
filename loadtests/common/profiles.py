"""Load profiles: a closed loop (fixed concurrency) and an open loop (Poisson arrivals).

Closed loop: each user sends its next request when the previous one ends,
so the offered load follows the server's speed. Open loop: arrival times are
drawn up front from a Poisson process and each request is fired at its time
in its own greenlet, whether or not earlier requests have answered, up to a
cap on requests in flight. Lateness against the plan is recorded per request
(`scheduled_at` vs `sent_at`) so the gate can tell a client that could not
keep the schedule from a slow server.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import gevent
from gevent.pool import Pool

from common.timing import CLOCK, Clock


def poisson_arrivals(rate: float, rng: random.Random) -> Iterator[float]:
    """Offsets in seconds from the start: exponential gaps with mean 1/rate."""
    if not rate > 0:
        raise ValueError(f"arrival rate must be > 0 per second, got {rate}")
    t = 0.0
    while True:
        t += rng.expovariate(rate)
        yield t


def arrivals_until(rate: float, rng: random.Random, horizon_s: float) -> list[float]:
    """All Poisson arrival offsets before `horizon_s` (for planning and tests)."""
    result = []
    for offset in poisson_arrivals(rate, rng):
        if offset >= horizon_s:
            return result
        result.append(offset)
    raise AssertionError("unreachable")


def closed_loop(send: Callable[[float | None], None], keep_going: Callable[[], bool]) -> None:
    """Back-to-back requests while `keep_going()`; `send(None)` means 'not scheduled'."""
    while keep_going():
        send(None)


class OpenLoop:
    """Fires `fire(scheduled_at)` at each arrival, each in its own greenlet.

    `prepare()` is called before sleeping until an arrival, so that building
    the request does not make it late. Arrivals at or after `end` are not
    fired. If the in-flight cap is reached, the arrival waits for a slot
    (`cap_waits` counts those); arrivals still waiting at `give_up_at` are
    never sent and are listed in `unsent`. On exit (normal or killed) any
    request still in flight is killed, which its sender records as cancelled.
    """

    def __init__(self, fire: Callable[[object, float], None], prepare: Callable[[], object],
                 arrivals: Iterator[float], *, start: float, end: float | None, max_in_flight: int,
                 give_up_at: float | None, clock: Clock = CLOCK) -> None:
        self.fire = fire
        self.prepare = prepare
        self.arrivals = arrivals
        self.start = start
        self.end = end
        self.give_up_at = give_up_at
        self.clock = clock
        self.pool = Pool(max_in_flight)
        self.cap_waits = 0
        self.unsent: list[float] = []

    def _remaining(self) -> float | None:
        return None if self.give_up_at is None else max(0.0, self.give_up_at - self.clock.now())

    def run(self) -> None:
        try:
            self._dispatch()
            self.pool.join(timeout=self._remaining())
        finally:
            self.pool.kill(block=True)

    def _dispatch(self) -> None:
        for offset in self.arrivals:
            at = self.start + offset
            if self.end is not None and at >= self.end:
                return
            payload = self.prepare()
            delay = at - self.clock.now()
            if delay > 0:
                gevent.sleep(delay)
            if self.pool.full():
                self.cap_waits += 1
                if not self.pool.wait_available(timeout=self._remaining()):
                    self._give_up(at)
                    return
            self.pool.spawn(self.fire, payload, at)

    def _give_up(self, first: float) -> None:
        self.unsent.append(first)
        if self.end is None:
            return
        for offset in self.arrivals:
            at = self.start + offset
            if at >= self.end:
                return
            self.unsent.append(at)
