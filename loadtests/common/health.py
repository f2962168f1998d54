"""Is the load generator itself keeping up? CPU share and gevent loop lag samples.

A saturated client makes a server look slow (timestamps are taken late) and
cannot hold an arrival schedule, so the gate marks such runs invalid. Two
signals, both without psutil: this process's CPU time from
`resource.getrusage` per wall-clock interval, and how late a short
`gevent.sleep` wakes up (the event loop's lag).
"""

from __future__ import annotations

import resource
import time

import gevent

from common.timing import CLOCK, Clock


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_share(cpu_before: float, cpu_after: float, wall_before: float, wall_after: float) -> float:
    """Fraction of one core used between two readings (can exceed 1 with threads)."""
    wall = wall_after - wall_before
    if wall <= 0:
        raise ValueError("wall-clock interval must be positive")
    return (cpu_after - cpu_before) / wall


class HealthMonitor:
    """Samples loop lag every `tick` seconds and CPU share every `cpu_every` seconds.

    Both lists hold (epoch time, value); a lag sample is stamped when the loop
    woke up, a CPU sample at the middle of the interval it covers.
    """

    def __init__(self, *, tick: float = 0.1, cpu_every: float = 0.5, clock: Clock = CLOCK) -> None:
        self.tick = tick
        self.cpu_every = cpu_every
        self.clock = clock
        self.cpu: list[tuple[float, float]] = []
        self.loop_lag_ms: list[tuple[float, float]] = []
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None

    def _run(self) -> None:
        cpu_mark, wall_mark = cpu_seconds(), time.perf_counter()
        while True:
            before = time.perf_counter()
            gevent.sleep(self.tick)
            after = time.perf_counter()
            self.loop_lag_ms.append((self.clock.at(after), max(0.0, (after - before - self.tick) * 1000.0)))
            if after - wall_mark >= self.cpu_every:
                cpu_now = cpu_seconds()
                # Stamped at the middle of the interval it covers, so that any window of at
                # least `cpu_every` seconds holds a sample.
                share = cpu_share(cpu_mark, cpu_now, wall_mark, after)
                self.cpu.append((self.clock.at((wall_mark + after) / 2), share))
                cpu_mark, wall_mark = cpu_now, after
