"""One clock per process: epoch-anchored but monotonic.

Records carry epoch timestamps so that several processes (and pods) can be
merged on one time line, but a wall clock can jump. Reading the epoch once
and adding `perf_counter` deltas gives timestamps that never go backwards
within a process and that agree with other processes to NTP accuracy.
"""

from __future__ import annotations

import time


class Clock:
    def __init__(self) -> None:
        self._epoch = time.time()
        self._perf = time.perf_counter()

    def now(self) -> float:
        """Epoch seconds, monotonic within this process."""
        return self._epoch + (time.perf_counter() - self._perf)

    def at(self, perf: float) -> float:
        """Epoch seconds of an earlier `time.perf_counter()` reading."""
        return self._epoch + (perf - self._perf)

    def perf_of(self, epoch: float) -> float:
        """The `perf_counter()` value at which this clock reads `epoch`."""
        return self._perf + (epoch - self._epoch)


CLOCK = Clock()
