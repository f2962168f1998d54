"""The promotion's time limit: SIGALRM interrupts the main thread, even inside a hanging load test or `up`."""

from __future__ import annotations

import signal
from types import FrameType, TracebackType
from typing import Any


class PromotionTimeout(BaseException):
    """The promotion ran past its time limit.

    A BaseException, like KeyboardInterrupt, so that no `except Exception` in
    the load-test harness can turn it into an ordinary verdict.
    """


class Watchdog:
    """Raises PromotionTimeout in the main thread once `seconds` have passed (SIGALRM; None: no limit)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._previous: Any = None

    def _fire(self, _signum: int, _frame: FrameType | None) -> None:
        raise PromotionTimeout(f"the promotion ran longer than --timeout {self.seconds:g} s")

    def disarm(self) -> None:
        if self.seconds:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def __enter__(self) -> "Watchdog":
        if self.seconds:
            self._previous = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.seconds:
            self.disarm()
            signal.signal(signal.SIGALRM, self._previous)
