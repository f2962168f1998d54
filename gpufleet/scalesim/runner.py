"""An offline scaling rehearsal: simulated replicas, a real Prometheus, the HPA's decisions.

Each replica is one vLLM simulator process. A bounded open-loop client sends a rising
then falling load, spread round-robin over the ready replicas as a Service would. A real
Prometheus scrapes every replica slot (a slot without a running replica is simply down,
as a deleted pod's series go stale). Every `sync_s` the release's ScaledObject queries
(the same PromQL KEDA would run, with this run's selector) are evaluated through
Prometheus's HTTP API and fed to `HpaBehavior`, the HPA's own algorithm with the
ScaledObject's behavior. New replicas serve only after a cold start. Time is compressed
by `factor`: the behavior's windows and periods and the cold start are divided by it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable

import aiohttp

from gpufleet.core.autoscaling import ScalingPlan, queries, scale_behavior, thresholds
from gpufleet.core.hpa_behavior import HpaBehavior, scaled_behavior
from gpufleet.observability.localprom import LocalPrometheus, ScrapeTarget
from gpufleet.processes import free_port
from gpufleet.simserver.launch import LocalServer


@dataclass(frozen=True)
class SimConfig:
    plan: ScalingPlan  # as rendered for the release; selector and rate window are replaced here
    load: Callable[[float], float]  # offered requests/s at t seconds
    duration_s: float = 60.0
    factor: float = 20.0  # compression: one real second is `factor` cluster seconds
    sync_s: float = 0.75  # the HPA's 15 s sync period, compressed
    scrape_s: float = 1.0
    max_num_seqs: int = 4  # per replica: beyond this, requests wait (vllm:num_requests_waiting)
    itl_ms: float = 20.0
    ttft_ms: float = 80.0
    max_tokens: int = 32


@dataclass
class Timeline:
    """What happened, one row per HPA sync (real seconds since start)."""

    t: list[float] = field(default_factory=list)
    replicas: list[int] = field(default_factory=list)  # desired replicas after the decision
    ready: list[int] = field(default_factory=list)
    offered_rps: list[float] = field(default_factory=list)
    values: list[dict[str, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"t": self.t, "replicas": self.replicas, "ready": self.ready, "offered_rps": self.offered_rps,
                "values": self.values, "errors": self.errors}


class _Replicas:
    """Replica slots with fixed ports; a replica serves once its cold start has passed."""

    def __init__(self, cfg: SimConfig, slots: int) -> None:
        self.cfg = cfg
        self.ports = [free_port() for _ in range(slots)]
        self.servers: dict[int, LocalServer] = {}
        self.ready_at: dict[int, float] = {}

    def scale_to(self, count: int, now: float, cold_start_s: float) -> None:
        for slot in range(count):
            if slot not in self.servers:
                self.servers[slot] = LocalServer(port=self.ports[slot], max_num_seqs=self.cfg.max_num_seqs,
                                                 itl_ms=self.cfg.itl_ms, ttft_ms=self.cfg.ttft_ms, jitter=0,
                                                 seed=slot).start()
                self.ready_at[slot] = now + cold_start_s
        for slot in sorted(self.servers)[count:]:
            self.servers.pop(slot).stop()
            self.ready_at.pop(slot, None)

    def ready_urls(self, now: float) -> list[str]:
        return [self.servers[s].url for s in sorted(self.servers) if self.ready_at[s] <= now]

    def model(self) -> str:
        return next(iter(self.servers.values())).model

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()


async def _drive(cfg: SimConfig, replicas: _Replicas, start: float, stop: threading.Event) -> None:
    """Open-loop arrivals at cfg.load(t), round-robin over ready replicas; bounded by duration_s."""
    model, turn, tasks = replicas.model(), 0, set()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        next_at = 0.0
        while not stop.is_set() and (now := time.monotonic() - start) < cfg.duration_s:
            urls = replicas.ready_urls(now)
            rate = cfg.load(now)
            if not urls or rate <= 0:
                await asyncio.sleep(0.05)
                next_at = now
                continue
            if now >= next_at:
                turn += 1
                body = {"model": model, "stream": True, "max_tokens": cfg.max_tokens,
                        "messages": [{"role": "user", "content": "scale"}]}
                task = asyncio.create_task(_one(session, urls[turn % len(urls)], body))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                next_at += 1.0 / rate
            await asyncio.sleep(max(0.0, min(0.05, next_at - now)))
        for task in tasks:
            task.cancel()


async def _one(session: aiohttp.ClientSession, url: str, body: dict) -> None:
    with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, ConnectionError):
        async with session.post(f"{url}/v1/chat/completions", data=json.dumps(body),
                                headers={"content-type": "application/json"}) as reply:
            async for _ in reply.content:
                pass


def _sim_plan(cfg: SimConfig) -> ScalingPlan:
    window = f"{max(2, round(cfg.scrape_s * 4))}s"  # rate() needs several scrapes in its range
    return replace(cfg.plan, selector='role="replica"', rate_window=window)


def run(cfg: SimConfig) -> Timeline:
    """Run the rehearsal; every process it starts is stopped before it returns."""
    plan = _sim_plan(cfg)
    exprs, cold = queries(plan), plan.cold_start_s / cfg.factor
    hpa = HpaBehavior(plan.min_replicas, plan.max_replicas, scaled_behavior(scale_behavior(plan.cold_start_s), cfg.factor),
                      thresholds(plan))
    replicas = _Replicas(cfg, plan.max_replicas)
    timeline, stop = Timeline(), threading.Event()
    targets = [ScrapeTarget(f"replica-{i}", f"127.0.0.1:{p}", labels={"role": "replica"})
               for i, p in enumerate(replicas.ports)]
    start = time.monotonic()
    replicas.scale_to(plan.min_replicas, 0.0, 0.0)
    driver = threading.Thread(target=lambda: asyncio.run(_drive(cfg, replicas, start, stop)), daemon=True)
    try:
        with LocalPrometheus(targets, scrape_interval_s=cfg.scrape_s) as prom:
            driver.start()
            current = plan.min_replicas
            while (now := time.monotonic() - start) < cfg.duration_s:
                values, error = _read(prom, exprs)
                if error:
                    timeline.errors.append(f"{now:.1f}s: {error}")  # the HPA holds (KEDA fallback) on errors
                else:
                    current = hpa.step(now, values, current)  # real seconds; the behavior is compressed
                    replicas.scale_to(current, now, cold)
                _record(timeline, now, current, len(replicas.ready_urls(now)), cfg.load(now), values)
                time.sleep(max(0.0, cfg.sync_s - (time.monotonic() - start - now)))
    finally:
        stop.set()
        if driver.is_alive():
            driver.join(timeout=10)
        replicas.stop()
    return timeline


def _read(prom: LocalPrometheus, exprs: dict[str, str]) -> tuple[dict[str, float], str | None]:
    values: dict[str, float] = {}
    for name, expr in exprs.items():
        try:
            value = prom.scalar(expr)
        except (OSError, RuntimeError) as exc:
            return values, f"{name}: {exc}"
        if value is None:
            return values, f"{name}: no data"
        values[name] = value
    return values, None


def _record(timeline: Timeline, now: float, current: int, ready: int, rate: float, values: dict[str, float]) -> None:
    timeline.t.append(round(now, 3))
    timeline.replicas.append(current)
    timeline.ready.append(ready)
    timeline.offered_rps.append(rate)
    timeline.values.append({k: round(v, 4) for k, v in values.items()})
