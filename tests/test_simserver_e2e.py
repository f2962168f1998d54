"""End to end: the simulator as a subprocess (LocalServer), spoken to over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict

from gpufleet.simserver.launch import LocalServer
from gpufleet.tokens import count_chat_tokens, count_tokens

pytestmark = pytest.mark.slow

MESSAGES = [{"role": "user", "content": "Say something about GPU clusters, 请简短。"}]


@dataclass
class Reply:
    status: int
    headers: CIMultiDict[str]
    body: bytes = b""
    events: list[str] = field(default_factory=list)  # payloads of data: lines
    arrivals: list[float] = field(default_factory=list)  # client time.time() per data: line
    error: str | None = None

    def json_events(self) -> list[dict[str, Any]]:
        return [json.loads(e) for e in self.events if e != "[DONE]"]

    @property
    def done(self) -> bool:
        return bool(self.events) and self.events[-1] == "[DONE]"


async def _request(url: str, method: str, path: str, payload: Any = None, headers: dict[str, str] | None = None,
                   read_events: int | None = None) -> Reply:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.request(method, url + path, json=payload, headers=headers) as resp:
            reply = Reply(resp.status, CIMultiDict(resp.headers))
            if not resp.headers.get("Content-Type", "").startswith("text/event-stream"):
                reply.body = await resp.read()
                return reply
            try:
                async for line in resp.content:
                    if line.startswith(b"data: "):
                        reply.arrivals.append(time.time())
                        reply.events.append(line[len(b"data: "):].rstrip(b"\n").decode())
                        if read_events is not None and len(reply.events) >= read_events:
                            return reply  # leave early: the client disconnects
            except aiohttp.ClientPayloadError as exc:
                reply.error = type(exc).__name__
            return reply


def call(server: LocalServer, method: str, path: str, payload: Any = None, **kw: Any) -> Reply:
    return asyncio.run(_request(server.url, method, path, payload, **kw))


def truth(server: LocalServer, request_id: str | None = None) -> list[dict[str, Any]]:
    path = "/sim/requests" + (f"?id={request_id}" if request_id else "")
    return json.loads(call(server, "GET", path).body)["requests"]


def metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} {labels} not in /metrics")


@pytest.fixture(scope="module")
def basic() -> Iterator[LocalServer]:
    with LocalServer(ttft_ms=30, itl_ms=4, jitter=0.0, seed=1) as server:
        yield server


def chat(server: LocalServer, max_tokens: int, stream: bool = True, usage: bool = True, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": server.model, "messages": MESSAGES, "max_tokens": max_tokens, "stream": stream}
    if stream and usage:
        body["stream_options"] = {"include_usage": True}
    return {**body, **extra}


# -- API surface -----------------------------------------------------------
def test_models_and_health(basic: LocalServer) -> None:
    models = call(basic, "GET", "/v1/models")
    assert models.status == 200
    (card,) = json.loads(models.body)["data"]
    assert (card["id"], card["max_model_len"]) == ("meta-llama/Llama-3.1-8B-Instruct", 8192) == (basic.model, 8192)
    health = call(basic, "GET", "/health")
    assert (health.status, health.body) == (200, b"")


def test_chat_stream_with_usage(basic: LocalServer) -> None:
    reply = call(basic, "POST", "/v1/chat/completions", chat(basic, 7))
    assert reply.status == 200 and reply.done and reply.error is None
    events = reply.json_events()
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    content = [e["choices"][0]["delta"]["content"] for e in events[1:-1]]
    assert len(content) == 7
    assert count_tokens("".join(content)) == 7
    assert events[-2]["choices"][0]["finish_reason"] == "length"
    assert events[-1]["choices"] == []
    prompt = count_chat_tokens(MESSAGES)
    assert events[-1]["usage"] == {"prompt_tokens": prompt, "total_tokens": prompt + 7, "completion_tokens": 7,
                                   "prompt_tokens_details": None}
    assert reply.headers["Content-Type"] == "text/event-stream; charset=utf-8"


def test_stream_without_include_usage_has_no_usage_chunk(basic: LocalServer) -> None:
    reply = call(basic, "POST", "/v1/chat/completions", chat(basic, 3, usage=False))
    assert reply.done
    assert all("usage" not in e for e in reply.json_events())


def test_chat_non_stream(basic: LocalServer) -> None:
    reply = call(basic, "POST", "/v1/chat/completions", chat(basic, 12, stream=False))
    assert reply.status == 200
    body = json.loads(reply.body)
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert count_tokens(body["choices"][0]["message"]["content"]) == 12
    prompt = count_chat_tokens(MESSAGES)
    assert body["usage"] == {"prompt_tokens": prompt, "total_tokens": prompt + 12, "completion_tokens": 12,
                             "prompt_tokens_details": None}


def test_completions_stream_and_plain(basic: LocalServer) -> None:
    prompt = "The quick brown fox 跳过 lazy dogs"
    payload = {"model": basic.model, "prompt": prompt, "max_tokens": 5}
    plain = json.loads(call(basic, "POST", "/v1/completions", payload).body)
    assert plain["object"] == "text_completion"
    assert count_tokens(plain["choices"][0]["text"]) == 5
    assert plain["usage"]["prompt_tokens"] == count_tokens(prompt) == 8
    streamed = call(basic, "POST", "/v1/completions", {**payload, "stream": True, "stream_options": {"include_usage": True}})
    events = streamed.json_events()
    assert [e["object"] for e in events] == ["text_completion"] * 6
    assert count_tokens("".join(e["choices"][0]["text"] for e in events[:-1])) == 5
    assert events[-1]["usage"]["completion_tokens"] == 5 and streamed.done


def test_wrong_model_is_404_like_vllm(basic: LocalServer) -> None:
    reply = call(basic, "POST", "/v1/chat/completions", {**chat(basic, 3), "model": "gpt-4o"})
    assert reply.status == 404
    assert json.loads(reply.body) == {
        "error": {"message": "The model `gpt-4o` does not exist.", "type": "NotFoundError", "param": "model", "code": 404}
    }


def test_bad_request_is_400(basic: LocalServer) -> None:
    reply = call(basic, "POST", "/v1/completions", {"model": basic.model, "prompt": "x", "max_tokens": 0})
    assert reply.status == 400
    assert json.loads(reply.body)["error"]["message"] == "max_tokens must be at least 1, got 0."


# -- ground truth and metrics -----------------------------------------------
def test_truth_records_match_what_the_client_saw(basic: LocalServer) -> None:
    reply = call(basic, "POST", "/v1/chat/completions", chat(basic, 6), headers={"x-request-id": "truth-1"})
    assert reply.headers["x-request-id"] == "truth-1"
    assert reply.json_events()[0]["id"] == "chatcmpl-truth-1"
    (rec,) = truth(basic, "truth-1")
    assert (rec["outcome"], rec["status"], rec["stream"], rec["endpoint"]) == ("ok", 200, True, "chat")
    assert rec["chunk_tokens"] == [1] * 6 and rec["completion_tokens"] == 6 and rec["max_tokens"] == 6
    assert rec["prompt_tokens"] == count_chat_tokens(MESSAGES)
    times = rec["chunk_times"]
    assert rec["received_at"] <= rec["headers_sent_at"] <= times[0] == rec["first_token_at"]
    # each write's start stamp precedes its completion, and follows the previous completion
    starts = rec["chunk_started"]
    assert len(starts) == len(times) and all(s <= t for s, t in zip(starts, times))
    assert all(prev <= s for prev, s in zip(times, starts[1:]))
    # token k is due TTFT + k * ITL after arrival (30 ms, 4 ms); writes are never early
    since = [t - rec["received_at"] for t in times]
    assert all(0.030 + k * 0.004 <= s < 0.030 + k * 0.004 + 1.0 for k, s in enumerate(since)), since
    # role + first token arrive in one write; each later data line is one write
    client_writes = [reply.arrivals[0]] + reply.arrivals[2:7]  # the last write also carries usage + [DONE]
    assert len(client_writes) == len(times)
    assert all(c >= t - 0.001 for c, t in zip(client_writes, times))  # seen after it was written
    assert rec["finished_at"] >= times[-1]


def test_truth_can_be_cleared(basic: LocalServer) -> None:
    call(basic, "POST", "/v1/completions", {"prompt": "x", "max_tokens": 1})
    assert len(truth(basic)) >= 1
    cleared = json.loads(call(basic, "DELETE", "/sim/requests").body)["cleared"]
    assert cleared >= 1
    assert truth(basic) == []


def test_truth_of_a_generated_id_and_of_a_rejection(basic: LocalServer) -> None:
    call(basic, "DELETE", "/sim/requests")
    call(basic, "POST", "/v1/completions", {"prompt": "x", "max_tokens": 2})
    call(basic, "POST", "/v1/completions", {"model": "nope", "prompt": "x"})
    ok, rejected = truth(basic)
    assert ok["id"] == f"sim-{ok['seq']}" and ok["outcome"] == "ok" and ok["chunk_tokens"] == [2]
    assert (rejected["status"], rejected["outcome"], rejected["chunk_times"]) == (404, "rejected", [])
    since = json.loads(call(basic, "GET", f"/sim/requests?since_seq={rejected['seq']}").body)["requests"]
    assert [r["seq"] for r in since] == [rejected["seq"]]
    bad = call(basic, "GET", "/sim/requests?since_seq=x")
    assert (bad.status, json.loads(bad.body)["error"]["message"]) == (400, "'since_seq' must be an integer.")


def test_metrics_use_vllm_names_and_count_tokens(basic: LocalServer) -> None:
    before = call(basic, "GET", "/metrics")
    assert before.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    call(basic, "POST", "/v1/chat/completions", chat(basic, 9))
    after = call(basic, "GET", "/metrics").body.decode()
    labels = {"model_name": basic.model}
    for name in ("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
                 "vllm:time_to_first_token_seconds_count", "vllm:inter_token_latency_seconds_count",
                 "vllm:e2e_request_latency_seconds_count"):
        metric(after, name, **labels)
    old = before.body.decode()
    for name, delta in (("vllm:prompt_tokens_total", count_chat_tokens(MESSAGES)), ("vllm:generation_tokens_total", 9)):
        assert metric(after, name, **labels) - metric(old, name, **labels) == delta
    success = "vllm:request_success_total"
    assert metric(after, success, finished_reason="length") - metric(old, success, finished_reason="length") == 1
    itl = "vllm:inter_token_latency_seconds_count"
    assert metric(after, itl, **labels) - metric(old, itl, **labels) == 8


# -- batching behaviour ------------------------------------------------------
def test_tokens_per_chunk_groups_tokens_after_the_first() -> None:
    with LocalServer(ttft_ms=10, itl_ms=2, jitter=0.0, tokens_per_chunk=3) as server:
        reply = call(server, "POST", "/v1/chat/completions", chat(server, 10), headers={"x-request-id": "tpc"})
        contents = [e["choices"][0]["delta"]["content"] for e in reply.json_events()[1:-1]]
        assert [count_tokens(c) for c in contents] == [1, 3, 3, 3]
        assert reply.json_events()[-1]["usage"]["completion_tokens"] == 10
        (rec,) = truth(server, "tpc")
        assert rec["chunk_tokens"] == [1, 3, 3, 3]
        since = [t - rec["received_at"] for t in rec["chunk_times"]]
        due = [0.010, 0.016, 0.022, 0.028]  # TTFT, then three 2 ms steps per chunk
        assert all(d <= s < d + 1.0 for d, s in zip(due, since)), since


def test_queueing_above_max_num_seqs_shows_in_metrics_and_ttft() -> None:
    # each request: 40 ms TTFT + 39 x 10 ms = 430 ms of running time
    with LocalServer(ttft_ms=40, itl_ms=10, jitter=0.0, max_num_seqs=2) as server:
        labels = {"model_name": server.model}

        async def scenario() -> tuple[float, float]:
            tasks = [
                asyncio.create_task(_request(server.url, "POST", "/v1/chat/completions", chat(server, 40),
                                             headers={"x-request-id": f"q{i}"}))
                for i in range(4)
            ]
            gauges = (-1.0, -1.0)
            for _ in range(20):  # until all four have arrived (the first two run for 430 ms)
                await asyncio.sleep(0.02)
                text = (await _request(server.url, "GET", "/metrics")).body.decode()
                gauges = (metric(text, "vllm:num_requests_running", **labels),
                          metric(text, "vllm:num_requests_waiting", **labels))
                if gauges == (2.0, 2.0):
                    break
            replies = await asyncio.gather(*tasks)
            assert all(r.done for r in replies)
            return gauges

        assert asyncio.run(scenario()) == (2.0, 2.0)
        records = sorted(truth(server), key=lambda r: r["first_token_at"])
        early, late = records[:2], records[2:]
        ttft = {r["id"]: r["first_token_at"] - r["received_at"] for r in records}
        assert all(ttft[r["id"]] >= 0.04 for r in early)
        # a queued request starts when a running one has written its last token, then takes 40 ms
        freed = min(r["chunk_times"][-1] for r in early)
        assert all(r["first_token_at"] >= freed + 0.04 for r in late)
        assert min(ttft[r["id"]] for r in late) > max(ttft[r["id"]] for r in early) + 0.2
        after = call(server, "GET", "/metrics").body.decode()
        assert metric(after, "vllm:request_queue_time_seconds_sum", **labels) >= 2 * 0.3


def test_client_disconnect_frees_the_slot() -> None:
    with LocalServer(ttft_ms=10, itl_ms=5, jitter=0.0, max_num_seqs=1) as server:
        first = call(server, "POST", "/v1/chat/completions", chat(server, 1000), headers={"x-request-id": "gone"},
                     read_events=3)
        assert len(first.events) == 3
        started = time.time()
        second = call(server, "POST", "/v1/chat/completions", chat(server, 2))
        assert second.done and time.time() - started < 1.0  # not 5 s behind the abandoned stream
        (rec,) = truth(server, "gone")
        assert rec["outcome"] == "client_disconnect" and rec["completion_tokens"] < 1000
        text = call(server, "GET", "/metrics").body.decode()
        assert metric(text, "vllm:request_success_total", finished_reason="abort") == 1.0


def test_profile_timing_end_to_end() -> None:
    # a10-24gb-llama-3.1-8b: TTFT = 37.76 ms + 10 tokens x 0.257 ms = 40.3 ms;
    # ITL = 34.76 ms weights + ~11 KV tokens x 0.28 us = 34.8 ms
    with LocalServer(jitter=0.0) as server:
        payload = {"prompt": "one two three four five six seven eight nine ten", "max_tokens": 3, "stream": True}
        reply = call(server, "POST", "/v1/completions", payload, headers={"x-request-id": "prof"})
        assert reply.done
        (rec,) = truth(server, "prof")
        since = [t - rec["received_at"] for t in rec["chunk_times"]]
        due = [0.0403, 0.0403 + 0.0347, 0.0403 + 2 * 0.0347]
        assert all(d <= s < d + 1.0 for d, s in zip(due, since)), since


# -- faults --------------------------------------------------------------------
FAULTY = dict(seed=7, ttft_ms=5, itl_ms=2, jitter=0.0, error_rate=0.2, stall_rate=0.3, stall_ms=300,
              disconnect_rate=0.2, malformed_rate=0.25)


def _observe_faults(server: LocalServer, n: int) -> list[tuple[Any, ...]]:
    seen = []
    for i in range(n):
        reply = call(server, "POST", "/v1/chat/completions", chat(server, 8))
        (rec,) = truth(server, f"sim-{i}")
        faults = rec["faults"]
        malformed = sum(1 for e in reply.events if e.startswith("{") and not _is_json(e))
        # writes are never early, so a stalled stream ends >= 300 ms after arrival;
        # an unstalled one is due after 5 ms + 7 x 2 ms
        stalled = bool(rec["chunk_times"]) and rec["chunk_times"][-1] - rec["received_at"] >= 0.3
        # what the client saw must match what the server says it injected
        if "error_status" in faults:
            assert reply.status == faults["error_status"]
            assert json.loads(reply.body)["error"]["code"] == faults["error_status"]
        else:
            assert reply.status == 200
            assert reply.done == ("disconnect_after_chunk" not in faults), (i, faults)
            assert (malformed == 1) == ("malformed_after_chunk" in faults), (i, faults)
            if "disconnect_after_chunk" not in faults:
                assert stalled == ("stall_after_token" in faults), (i, faults, rec["chunk_times"])
        seen.append((reply.status, json.dumps(faults, sort_keys=True), reply.done, malformed, rec["outcome"]))
    return seen


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def test_faults_are_observable_and_reproducible_with_a_seed() -> None:
    with LocalServer(**FAULTY) as server:
        first = _observe_faults(server, 8)
    kinds = " ".join(f for _, f, *_ in first)
    for kind in ("error_status", "stall_after_token", "disconnect_after_chunk", "malformed_after_chunk"):
        assert kind in kinds, kind
    assert {o for *_, o in first} == {"ok", "injected_error", "injected_disconnect"}
    with LocalServer(**FAULTY) as server:
        assert _observe_faults(server, 8) == first
    with LocalServer(**{**FAULTY, "seed": 8}) as server:
        assert _observe_faults(server, 6) != first[:6]


# -- launcher ------------------------------------------------------------------
def test_launcher_stops_the_process() -> None:
    with LocalServer(itl_ms=1) as server:
        pid = server.pid
        assert server.url.startswith("http://127.0.0.1:") and server.profile == "a10-24gb-llama-3.1-8b"
        os.kill(pid, 0)  # alive
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_launcher_reports_a_server_that_dies() -> None:
    with pytest.raises(RuntimeError) as err:
        LocalServer(profile="nope").start()
    message = str(err.value)
    assert message.startswith("the simulator exited with code 2 before it was ready; stderr: ")
    assert "unknown profile 'nope'" in message


def test_launcher_times_out_with_a_clear_error() -> None:
    server = LocalServer(startup_timeout_s=0.001)
    with pytest.raises(TimeoutError) as err:
        server.start()
    assert str(err.value).startswith("the simulator did not report its URL within 0.001 s")
    assert server.process is None  # it was stopped


def test_cli_refuses_a_non_loopback_host() -> None:
    done = subprocess.run([sys.executable, "-m", "gpufleet.simserver", "--host", "10.0.0.1"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and done.stdout == ""
    assert "error: refusing to listen on non-loopback host '10.0.0.1'" in done.stderr
