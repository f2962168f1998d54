"""Pause after failed requests, so that a failing server cannot spin a closed loop.

A closed-loop user sends its next request as soon as the last one ends. When
the server answers every request instantly with an error (HTTP 429, an error
body, an empty stream), that is thousands of requests per second per user:
the client burns a full core, and the run looked `invalid` (client saturated)
instead of `fail` (server failing). After each failure the user waits, doubling
from `FIRST_S` to `MAX_S`; a success resets it. A healthy server with the odd
error sees a few tens of milliseconds of pause now and then.
"""

from __future__ import annotations

FIRST_S = 0.05
MAX_S = 1.0


class FailureBackoff:
    """Seconds to wait after a request: 0 after a success, growing after consecutive failures."""

    def __init__(self, first_s: float = FIRST_S, max_s: float = MAX_S) -> None:
        self.first_s = first_s
        self.max_s = max_s
        self._next = first_s

    def after(self, failed: bool) -> float:
        if not failed:
            self._next = self.first_s
            return 0.0
        pause = self._next
        self._next = min(self.max_s, self._next * 2)
        return pause
