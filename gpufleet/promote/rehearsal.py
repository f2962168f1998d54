"""`promote --dry-run --local`: a whole promotion rehearsed on this machine, against a real Prometheus.

What runs (all on 127.0.0.1, free ports, stopped on exit whatever happens):

* one vLLM simulator per release (`gpufleet.simserver`), all serving the
  candidate's model name so that one client can talk to either;
* HAProxy as the weighted router (`router.LocalRouter`), starting at the
  stack's current weights; the state machine shifts it step by step;
* Locust sending the stack's workload through the router at `rate` req/s
  (`traffic.BackgroundTraffic`): the "users" whose traffic is analysed;
* Prometheus scraping every simulator each second, each release's series
  labelled to match `gpufleet:promotion.releaseSelector`, so the analysis
  sends exactly the PromQL it would send to the stack's Prometheus.

Faults scheduled with `faults={step: {switch: value}}` are switched on in the
candidate (`PUT /sim/faults`) at the moment that step's weights are applied,
so a rehearsal shows the analysis catching them at the step where they start.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from gpufleet.observability.localprom import LocalPrometheus, ScrapeTarget
from gpufleet.promote.prometheus import PrometheusClient, PrometheusError, UrlTransport
from gpufleet.promote.router import LocalRouter, RouterStack
from gpufleet.promote.traffic import BackgroundTraffic

_EQUALITY = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!=|!~|=)\s*"((?:[^"\\]|\\.)*)"\s*')


class RehearsalError(RuntimeError):
    """The rehearsal could not be set up; str() is one line."""


def selector_labels(selector: str) -> dict[str, str]:
    """The labels a series needs to match `selector` (equality matchers only, e.g. namespace="llm-green")."""
    labels: dict[str, str] = {}
    for part in selector.split(","):
        match = _EQUALITY.fullmatch(part)
        if match is None or match.group(2) != "=":
            raise RehearsalError(f"the rehearsal labels each release's series from gpufleet:promotion.releaseSelector "
                                 f"and needs equality matchers only (name=\"value\"); got {selector!r}")
        labels[match.group(1)] = match.group(3)
    return labels


@dataclass(frozen=True)
class RehearsalSpec:
    candidate: str
    start: Mapping[str, int]  # every release of the plan and its weight now
    model: str
    selector: Callable[[str], str]
    candidate_options: Mapping[str, Any] = field(default_factory=dict)
    baseline_options: Mapping[str, Any] = field(default_factory=dict)
    faults: Mapping[int, Mapping[str, float]] = field(default_factory=dict)  # step -> simulator switches
    step_weights: Mapping[int, Mapping[str, int]] = field(default_factory=dict)
    workload: str = "short_chat"
    traffic_rate: float = 10.0
    duration_s: float = 3600.0


class Rehearsal:
    """Starts everything on enter, stops everything on exit."""

    def __init__(self, spec: RehearsalSpec, *, say: Callable[[str], None] = lambda _l: None,
                 record: Callable[..., Any] = lambda *_a, **_k: None) -> None:
        self.spec = spec
        self.say = say
        self.record = record
        self.servers: dict[str, Any] = {}
        self.injected: set[int] = set()
        self._stack = ExitStack()
        self.router: LocalRouter | None = None
        self.prometheus: LocalPrometheus | None = None
        self.traffic: BackgroundTraffic | None = None

    # ------------------------------------------------------------ set-up

    def __enter__(self) -> Rehearsal:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def _start(self) -> None:
        from gpufleet.simserver.launch import LocalServer

        spec = self.spec
        labels = {name: selector_labels(spec.selector(name)) for name in spec.start}
        servers = {}
        for seed, name in enumerate(sorted(spec.start), start=1):
            options = spec.candidate_options if name == spec.candidate else spec.baseline_options
            try:
                servers[name] = LocalServer(**{"seed": seed, **options, "model": spec.model})
            except (TypeError, ValueError) as exc:
                raise RehearsalError(f"simulator options for {name}: {exc}") from None
        for name, server in servers.items():
            self._stack.callback(server.stop)  # stop() is safe on a server that never started
        with ThreadPoolExecutor(len(servers)) as pool:  # each start waits about a second for its process
            for name, server in zip(servers, pool.map(lambda s: s.start(), servers.values())):
                self.servers[name] = server
        addresses = {name: s.url.removeprefix("http://") for name, s in self.servers.items()}
        self.router = self._stack.enter_context(LocalRouter(addresses, spec.start))
        jobs = [ScrapeTarget(f"vllm-{name}", addresses[name], labels[name]) for name in sorted(addresses)]
        self.prometheus = self._stack.enter_context(LocalPrometheus(jobs, scrape_interval_s=1.0))
        self.traffic = self._stack.enter_context(BackgroundTraffic(
            self.router.url, model=spec.model, workload=spec.workload, rate=spec.traffic_rate,
            duration_s=spec.duration_s))
        self.say(f"rehearsal: {len(self.servers)} simulators ({', '.join(sorted(self.servers))}) behind HAProxy at "
                 f"{self.router.url}; Locust sends {spec.traffic_rate:g} req/s of {spec.workload} through it; "
                 f"Prometheus at {self.prometheus.url} scrapes every 1 s")

    def wait_for_scrapes(self, timeout_s: float = 20.0) -> None:
        """Until Prometheus has scraped every simulator (it applies new targets only every 5 s after it starts,
        so this runs after the gate, which takes longer, rather than holding up the start)."""
        targets = len(self.servers)
        client = self.client()
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if (client.query("count(up == 1)", at=time.time()) or 0) >= targets:
                    return
            except PrometheusError:
                pass
            if time.monotonic() > deadline:
                raise RehearsalError(f"Prometheus did not scrape all {targets} simulators within {timeout_s:g} s")
            time.sleep(0.25)

    # ------------------------------------------------------------ what the promotion uses

    def client(self) -> PrometheusClient:
        assert self.prometheus is not None
        return PrometheusClient(UrlTransport(self.prometheus.url), timeout_s=5.0)

    @property
    def candidate_url(self) -> str:
        return self.servers[self.spec.candidate].url

    def stack(self) -> RouterStack:
        assert self.router is not None
        return RouterStack(self.router, on_applied=self._on_applied)

    def _on_applied(self, weights: Mapping[str, int]) -> None:
        for step, step_weights in self.spec.step_weights.items():
            if dict(weights) == dict(step_weights) and step in self.spec.faults and step not in self.injected:
                self.injected.add(step)
                self.inject(step, self.spec.faults[step])

    def inject(self, step: int, switches: Mapping[str, float]) -> None:
        """Switch faults on in the candidate now (and say so in the audit log)."""
        url = f"{self.candidate_url}/sim/faults"
        body = json.dumps(dict(switches)).encode()
        request = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()
        shown = ", ".join(f"{k}={v:g}" for k, v in switches.items())
        self.record("fault", step=step, release=self.spec.candidate, switches=dict(switches))
        self.say(f"step {step}: rehearsal fault switched on in {self.spec.candidate}: {shown}")

    def gate(self, inner: Any) -> "RehearsalGate":
        return RehearsalGate(inner, self)

    # ------------------------------------------------------------ tear-down

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stack.close()


class RehearsalGate:
    """The load-test gate, then a wait until Prometheus scrapes every simulator (no analysis without data)."""

    def __init__(self, inner: Any, rehearsal: Rehearsal) -> None:
        self.inner = inner
        self.rehearsal = rehearsal

    def check(self, target_url: str, model: str, slo: Any, share: int) -> Any:
        result = self.inner.check(target_url, model, slo, share)
        self.rehearsal.wait_for_scrapes()  # RehearsalError: the machine turns it into an invalid verdict
        traffic = self.rehearsal.traffic
        if traffic is not None and not traffic.running():  # else every step would read as "no traffic"
            raise RehearsalError(f"the rehearsal's Locust users stopped: {traffic.log_tail()[-300:]!r}")
        return result
