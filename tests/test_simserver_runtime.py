"""Runtime fault switches (`PUT /sim/faults`) and vLLM's `http_requests_total`, in process over real HTTP."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from gpufleet.simserver.options import SimOptions, resolve
from gpufleet.simserver.server import SimServer

CHAT = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


def run(scenario: Any, **options: Any) -> Any:
    async def main() -> Any:
        server = SimServer(resolve(SimOptions(ttft_ms=5, itl_ms=1, jitter=0, **options)))
        async with TestClient(TestServer(server.app)) as client:
            return await scenario(client, server)
    return asyncio.run(main())


async def chat(client: TestClient, stream: bool = False) -> int:
    async with client.post("/v1/chat/completions", json={**CHAT, "stream": stream}) as resp:
        await resp.read()
        return resp.status


async def metrics(client: TestClient) -> list[str]:
    async with client.get("/metrics") as resp:
        return [line for line in (await resp.text()).splitlines() if line.startswith("http_requests_total")]


def test_an_error_burst_switched_on_at_run_time():
    async def scenario(client: TestClient, server: SimServer) -> Any:
        before = await chat(client)
        async with client.put("/sim/faults", json={"error_rate": 1.0}) as resp:
            config = await resp.json()
        during = [await chat(client) for _ in range(3)]
        async with client.put("/sim/faults", json={"error_rate": 0}) as resp:
            assert resp.status == 200
        after = await chat(client, stream=True)
        return before, config, during, after, await metrics(client)

    before, config, during, after, lines = run(scenario)
    assert before == 200 and after == 200 and set(during) <= {500, 503}
    assert config["faults"]["error_rate"] == 1.0
    # counted like vLLM's instrumentator: route template, method, grouped status; /metrics and /sim/* not counted
    assert lines == ['http_requests_total{handler="/v1/chat/completions",method="POST",status="2xx"} 2.0',
                     'http_requests_total{handler="/v1/chat/completions",method="POST",status="5xx"} 3.0']


def test_a_ttft_regression_switched_on_at_run_time():
    async def scenario(client: TestClient, server: SimServer) -> Any:
        started = time.monotonic()
        await chat(client)
        fast = time.monotonic() - started
        async with client.put("/sim/faults", json={"ttft_ms": 300}) as resp:
            config = await resp.json()
        started = time.monotonic()
        await chat(client)
        return fast, time.monotonic() - started, config, server.scheduler.timing.ttft_base_s

    fast, slow, config, ttft_s = run(scenario)
    assert fast < 0.2 and slow >= 0.3
    assert config["timing"]["ttft_base_ms"] == 300.0 and ttft_s == 0.3


def test_bad_switches_are_refused_and_change_nothing():
    async def scenario(client: TestClient, server: SimServer) -> Any:
        answers = []
        for body in ({"temperature": 1}, {"error_rate": 2}, {"error_rate": -1}, {"error_rate": True}, [], {}):
            async with client.put("/sim/faults", json=body) as resp:
                answers.append((resp.status, (await resp.json())["error"]["message"]))
        return answers, server.config.faults.error_rate

    answers, error_rate = run(scenario)
    assert error_rate == 0.0
    assert [status for status, _ in answers] == [400] * 6
    assert answers[0][1] == ("unknown switch 'temperature' (allowed: error_rate, stall_rate, stall_ms, "
                             "disconnect_rate, malformed_rate, ttft_ms, itl_ms)")
    assert answers[1][1] == "error_rate must be between 0 and 1, got 2.0"
    assert answers[2][1] == "'error_rate' must be >= 0, got -1"
    assert answers[3][1] == "'error_rate' must be a finite number, got True"
