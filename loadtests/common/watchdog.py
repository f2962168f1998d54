"""One greenlet per process enforces every request's time limits.

A gevent socket with a timeout arms and cancels a `gevent.Timeout` on every
blocking `recv`; at thousands of chunks per second that timer churn was about
a tenth of the client's CPU. Instead, sockets have no timeout, and each
request holds a `Ticket`: its whole-request deadline and its stall limit
(no bytes for that long). The request's read loop only stores the time of
its latest read on the ticket; a single watchdog greenlet wakes every
`tick` seconds, and throws `Expired` into a request that passed a limit.
Limits are therefore enforced to within one tick (100 ms by default), which
is far below the limits themselves (seconds).
"""

from __future__ import annotations

import time

import gevent
from gevent import getcurrent
from gevent.hub import get_hub


class RequestDeadline(Exception):
    """The whole-request time limit passed."""


class Expired(RequestDeadline):
    """Thrown into a request by the watchdog; `kind` is "deadline" or "stall"."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class Ticket:
    """A request under watch. The read loop updates `last` (perf_counter seconds) on every read."""

    __slots__ = ("greenlet", "deadline", "stall_s", "last", "active", "expired")

    def __init__(self, greenlet, deadline: float, stall_s: float, now: float) -> None:
        self.greenlet = greenlet
        self.deadline = deadline
        self.stall_s = stall_s
        self.last = now
        self.active = True
        self.expired: str | None = None


class Watchdog:
    """Watches tickets of the current process; runs only while there are any."""

    def __init__(self, tick: float = 0.1) -> None:
        if not tick > 0:
            raise ValueError(f"watchdog tick must be > 0 seconds, got {tick}")
        self.tick = tick
        self._tickets: set[Ticket] = set()
        self._greenlet: gevent.Greenlet | None = None

    def watch(self, timeout_s: float, stall_s: float) -> Ticket:
        """A ticket for the calling greenlet, starting now."""
        now = time.perf_counter()
        ticket = Ticket(getcurrent(), now + timeout_s, stall_s, now)
        self._tickets.add(ticket)
        if self._greenlet is None or self._greenlet.dead:
            self._greenlet = gevent.spawn(self._run)
        return ticket

    def release(self, ticket: Ticket) -> None:
        ticket.active = False
        self._tickets.discard(ticket)

    def check(self, now: float) -> list[Ticket]:
        """Expire every ticket past a limit at `now`; returns them (pure bookkeeping, for tests)."""
        expired = []
        for ticket in self._tickets:
            if now >= ticket.deadline:
                ticket.expired = "deadline"
            elif now - ticket.last >= ticket.stall_s:
                ticket.expired = "stall"
            else:
                continue
            expired.append(ticket)
        for ticket in expired:
            self._tickets.discard(ticket)
        return expired

    def _run(self) -> None:
        loop = get_hub().loop
        while self._tickets:
            gevent.sleep(self.tick)
            for ticket in self.check(time.perf_counter()):
                loop.run_callback(_throw, ticket)
        self._greenlet = None


def _throw(ticket: Ticket) -> None:
    """Runs in the hub: the request's greenlet is suspended, so it gets the exception at its wait."""
    if ticket.active and not ticket.greenlet.dead:
        ticket.greenlet.throw(Expired(ticket.expired or "deadline"))


WATCHDOG = Watchdog()
