"""Helpers shared by the load-test benchmarks (standard library only).

* CPU accounting of a process tree from ``/proc`` (user + system seconds of
  every live process under a root, plus what each has already collected
  from its reaped children), sampled over time by :class:`CpuSampler`, so a
  measurement window can be cut out of a longer run.
* The simulator's Prometheus counters (``/metrics``) and ground truth
  (``/sim/requests``), read with ``urllib`` from 127.0.0.1 only.
* Nearest-rank percentiles, identical to ``gpufleet.loadtest.stats``.

Linux only (``/proc``). Nothing here starts or stops processes.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- /proc CPU accounting ---------------------------------------------------
def parse_stat(text: str) -> tuple[float, float]:
    """(own CPU seconds, reaped children's CPU seconds) from a /proc/PID/stat line.

    Fields after the ``(comm)`` part: utime, stime, cutime, cstime are fields
    14-17 of proc(5), i.e. indexes 11-14 after the closing parenthesis.
    """
    fields = text.rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / CLK_TCK
    children = (int(fields[13]) + int(fields[14])) / CLK_TCK
    return own, children


def process_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` itself plus its reaped children; 0.0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            own, children = parse_stat(fh.read())
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return 0.0
    return own + children


def context_switches(pid: int) -> tuple[int, int]:
    """(voluntary, involuntary) context switches of ``pid`` so far; (0, 0) if it is gone.

    Involuntary switches count how often the kernel took the CPU away while the
    process still wanted it: a sign of CPU contention on the machine.
    """
    counts = {"voluntary_ctxt_switches": 0, "nonvoluntary_ctxt_switches": 0}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in counts:
                    counts[key] = int(value)
    except (FileNotFoundError, ProcessLookupError):
        pass
    return counts["voluntary_ctxt_switches"], counts["nonvoluntary_ctxt_switches"]


def tree_involuntary_switches(root: int) -> int:
    """Involuntary context switches summed over ``root``'s live process tree."""
    return sum(context_switches(pid)[1] for pid in tree_pids(root))


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (every thread's children list)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except (FileNotFoundError, ProcessLookupError):
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as fh:
                found.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def tree_pids(root: int) -> list[int]:
    """``root`` and every live descendant."""
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in pids:
            continue
        pids.append(pid)
        todo.extend(children_of(pid))
    return pids


def tree_cpu(root: int, exclude: Sequence[int] = ()) -> float:
    """CPU seconds used so far by ``root``'s process tree (minus the subtrees in ``exclude``).

    A child that exits and is reaped moves its time into its parent's
    children counters, so the sum stays continuous; a descendant that is not
    reaped by a member of the tree (double-fork) is lost when it exits.
    """
    skip: set[int] = set()
    for pid in exclude:
        skip.update(tree_pids(pid))
    total = 0.0
    for pid in tree_pids(root):
        if pid not in skip:
            total += process_cpu(pid)
    return total


@dataclass
class CpuSampler:
    """Samples named CPU counters (seconds) every ``interval`` seconds in a thread.

    ``probes`` maps a name to a function returning cumulative CPU seconds.
    ``samples`` holds (epoch time, {name: seconds}) tuples.
    """

    probes: dict[str, Callable[[], float]]
    interval: float = 0.25
    samples: list[tuple[float, dict[str, float]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def sample(self) -> None:
        values = {name: probe() for name, probe in self.probes.items()}
        self.samples.append((time.time(), values))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def value_at(samples: Sequence[tuple[float, dict[str, float]]], name: str, t: float) -> float:
    """Counter ``name`` at time ``t``, linearly interpolated between samples."""
    points = [(ts, values[name]) for ts, values in samples if name in values]
    if not points:
        raise ValueError(f"no samples of {name!r}")
    if t <= points[0][0]:
        return points[0][1]
    for (t0, v0), (t1, v1) in zip(points, points[1:]):
        if t0 <= t <= t1:
            return v0 if t1 == t0 else v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    return points[-1][1]


def window_cpu_share(samples: Sequence[tuple[float, dict[str, float]]], name: str, start: float,
                     end: float) -> float:
    """Cores used by ``name`` on average over [start, end] (CPU seconds / wall seconds)."""
    if not end > start:
        raise ValueError("window must have a positive length")
    return (value_at(samples, name, end) - value_at(samples, name, start)) / (end - start)


# -- the simulator's HTTP endpoints -----------------------------------------
def _loopback_only(url: str) -> str:
    host = urlsplit(url).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"benchmarks only talk to loopback servers, not {url!r}")
    return url


def get_json(url: str, timeout: float = 30.0) -> object:
    with urllib.request.urlopen(_loopback_only(url), timeout=timeout) as resp:
        return json.loads(resp.read())


def delete(url: str, timeout: float = 30.0) -> None:
    req = urllib.request.Request(_loopback_only(url), method="DELETE")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        resp.read()


def parse_prometheus(text: str) -> dict[str, float]:
    """Sample name (with its labels, as written) -> value, for every sample line."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            values[name] = float(value)
        except ValueError:
            continue
    return values


def metric_sum(values: dict[str, float], name: str) -> float:
    """Sum of every sample of metric ``name`` (all label sets)."""
    return math.fsum(v for k, v in values.items() if k == name or k.startswith(name + "{"))


def server_counters(base_url: str) -> dict[str, float]:
    """Generated tokens, completed (not aborted) requests and running requests from /metrics."""
    with urllib.request.urlopen(_loopback_only(base_url + "/metrics"), timeout=10) as resp:
        values = parse_prometheus(resp.read().decode())
    aborted = metric_sum({k: v for k, v in values.items() if 'finished_reason="abort"' in k},
                         "vllm:request_success_total")
    return {
        "generation_tokens": metric_sum(values, "vllm:generation_tokens_total"),
        "requests": metric_sum(values, "vllm:request_success_total") - aborted,
        "running": metric_sum(values, "vllm:num_requests_running"),
    }


# -- statistics -------------------------------------------------------------
def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (the definition gpufleet.loadtest.stats uses)."""
    if not values:
        raise ValueError("percentile of an empty sample")
    ordered = sorted(values)
    rank = math.ceil(p / 100.0 * len(ordered))
    return float(ordered[max(rank, 1) - 1])
