"""Server on one core, client on another: the benchmarks' CPU pinning.

The benchmark process pins itself (and so the simulator it starts, which
inherits the affinity) to ``SERVER_CPU``; client commands are prefixed with
``taskset -c CLIENT_CPU`` so the client and every process it forks run on the
other core. On a machine with one CPU, or without ``taskset``, nothing is
pinned and the benchmarks say so.
"""

from __future__ import annotations

import functools
import os
import shutil

SERVER_CPU = 0
CLIENT_CPU = 1


@functools.lru_cache(maxsize=1)
def can_pin() -> bool:
    """Decided once, before this process pins itself (its own affinity then shows one CPU)."""
    return hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2 and shutil.which("taskset") is not None


def pin_current_process() -> bool:
    """Pin this process (and the children it starts from now on) to the server core."""
    if not can_pin():
        return False
    os.sched_setaffinity(0, {SERVER_CPU})
    return True


def client_prefix() -> list[str]:
    """argv prefix that runs a client command on the client core."""
    return ["taskset", "-c", str(CLIENT_CPU)] if can_pin() else []


def describe() -> str:
    if not can_pin():
        return "not pinned (needs 2 CPUs and taskset)"
    return f"server and benchmark pinned to CPU {SERVER_CPU}, client to CPU {CLIENT_CPU} (taskset)"
