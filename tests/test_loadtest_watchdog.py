"""The single watchdog greenlet: deadlines and stalls without a timer per recv."""

from __future__ import annotations

import time

import gevent
import pytest

from common.watchdog import Expired, Watchdog


def test_check_expires_by_deadline_first_then_by_stall():
    dog = Watchdog()
    t0 = time.perf_counter()
    stalled = dog.watch(60.0, 1.0)
    late = dog.watch(0.5, 60.0)
    fine = dog.watch(60.0, 60.0)
    for ticket in (stalled, late, fine):
        ticket.last = t0
    expired = dog.check(t0 + 2.0)
    assert {id(t) for t in expired} == {id(stalled), id(late)}
    assert (stalled.expired, late.expired, fine.expired) == ("stall", "deadline", None)
    assert dog.check(t0 + 3.0) == []  # an expired ticket is not expired twice
    for ticket in (stalled, late, fine):
        dog.release(ticket)


def test_a_read_keeps_a_ticket_alive():
    dog = Watchdog()
    ticket = dog.watch(60.0, 1.0)
    ticket.last = time.perf_counter() + 5.0
    assert dog.check(time.perf_counter() + 5.5) == []
    dog.release(ticket)


def test_the_watchdog_interrupts_a_blocked_greenlet_and_then_stops():
    dog = Watchdog(tick=0.02)

    def blocked():
        ticket = dog.watch(10.0, 0.1)
        try:
            gevent.sleep(5.0)
        finally:
            dog.release(ticket)

    started = time.perf_counter()
    greenlet = gevent.spawn(blocked)
    greenlet.join(timeout=2.0)
    assert isinstance(greenlet.exception, Expired) and greenlet.exception.kind == "stall"
    assert 0.09 <= time.perf_counter() - started < 0.5
    gevent.sleep(0.05)
    assert dog._greenlet is None  # idle: no tickets, no greenlet


def test_a_released_ticket_is_never_thrown():
    dog = Watchdog(tick=0.02)
    done = []

    def quick():
        ticket = dog.watch(10.0, 0.05)
        dog.release(ticket)
        gevent.sleep(0.2)
        done.append(True)

    gevent.spawn(quick).join(timeout=2.0)
    assert done == [True]


@pytest.mark.parametrize("tick", [0.0, -1.0])
def test_tick_is_positive_in_practice(tick):
    # guard against a busy loop: a non-positive tick would spin the event loop
    with pytest.raises(ValueError, match=r"^watchdog tick must be > 0 seconds, got "):
        Watchdog(tick=tick)
