"""End to end, offline: client -> moderation proxy -> vLLM simulator, with Alibaba Cloud Content
Moderation played by a local stand-in that the real SDK (alibabacloud-green20220302) calls."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest
from alibabacloud_credentials.client import Client as CredentialClient
from alibabacloud_credentials.models import Config as CredentialConfig

from gpufleet.moderation.green import GreenProvider
from gpufleet.moderation.launch import STANDIN_CREDENTIALS, LocalProxy, LocalStandin
from gpufleet.simserver.launch import LocalServer

pytestmark = pytest.mark.slow

# The simulator answers with this text's tokens; the blocked phrase sits in the third sentence.
ANSWER = "The sky is blue. Water is wet. This part has forbidden words in it. After that more text follows."
BLOCK = {"forbidden": "political_content"}
WINDOW = {"min_window_chars": 16, "first_window_chars": 24, "window_chars": 200, "overlap_chars": 32}


def call(url: str, body: dict | None = None, method: str = "POST", headers: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def events(text: str) -> list:
    out = []
    for block in text.split("\n\n"):
        if block.startswith("data: "):
            payload = block[6:]
            out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


def content(evts: list) -> str:
    return "".join(e["choices"][0]["delta"].get("content") or "" for e in evts
                   if isinstance(e, dict) and e.get("choices"))


@pytest.fixture(scope="module")
def stage():
    with LocalServer(itl_ms=4, ttft_ms=10, jitter=0, output_text=ANSWER) as sim, LocalStandin(block=BLOCK) as green, \
            LocalProxy(upstream=sim.url, provider="aliyun-green", endpoint=green.url, stack="prod-cn-hangzhou",
                       service_name="Zhejiang-Assistant-202501010001", explicit_notice="本内容由人工智能生成",
                       **WINDOW) as proxy:
        yield sim, green, proxy


def sim_requests(sim) -> int:
    return len(json.loads(call(sim.url + "/sim/requests", method="GET")[2])["requests"])


def chat(stage, text: str, max_tokens: int, stream: bool = True, **headers):
    sim, _, proxy = stage
    body = {"model": sim.model, "stream": stream, "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": text}]}
    if stream:
        body["stream_options"] = {"include_usage": True}
    return call(proxy.url + "/v1/chat/completions", body, headers=headers)


def test_real_sdk_against_the_standin_screens_both_directions():
    # In process, the key is handed over explicitly (alibabacloud-credentials reads its environment
    # variables once, at import); the proxy process gets it from the default chain like RRSA.
    credential = CredentialClient(CredentialConfig(
        type="access_key", access_key_id=STANDIN_CREDENTIALS["ALIBABA_CLOUD_ACCESS_KEY_ID"],
        access_key_secret=STANDIN_CREDENTIALS["ALIBABA_CLOUD_ACCESS_KEY_SECRET"]))

    async def screen(url: str):
        provider = GreenProvider(url, timeout_ms=3000, credential=credential)
        return [await provider.screen(t, d, request_id="t1") for t, d in
                (("hello", "prompt"), ("some forbidden text", "output"))]

    with LocalStandin(block=BLOCK) as green:
        clean, blocked = asyncio.run(screen(green.url))
        calls = json.loads(call(green.url + "/standin/calls", method="GET")[2])["calls"]
    assert not clean.blocked and clean.risk_level == "none"
    assert blocked.blocked and blocked.categories == ("political_content",) and blocked.provider_request_id
    assert [c["service"] for c in calls] == ["llm_query_moderation", "llm_response_moderation"]


def test_clean_prompt_streams_normally_with_labels(stage):
    status, headers, body = chat(stage, "What colour is the sky?", 8, **{"x-request-id": "clean-1"})
    assert status == 200 and headers["x-request-id"] == "clean-1"
    assert headers["x-aigc-label"] == "1" and json.loads(headers["x-aigc"])["ContentProducer"].startswith("Zhejiang")
    evts = events(body)
    assert evts[-1] == "[DONE]"
    assert evts[0]["aigc"]["Label"] == "1" and evts[0]["aigc"]["notice"] == "本内容由人工智能生成"
    assert evts[0]["aigc"]["ProduceID"] == headers["x-aigc-produce-id"]
    assert content(evts) == "The sky is blue. Water is wet"
    usage = [e for e in evts if isinstance(e, dict) and e.get("usage")]
    assert usage[0]["usage"]["completion_tokens"] == 8
    assert [e["choices"][0]["finish_reason"] for e in evts if isinstance(e, dict) and e.get("choices")][-1] == "length"


def test_clean_non_streamed_answer_is_labelled(stage):
    status, headers, body = chat(stage, "What colour is the sky?", 5, stream=False)
    answer = json.loads(body)
    assert status == 200 and answer["choices"][0]["message"]["content"] == "The sky is blue."
    assert answer["aigc"]["ProduceID"] == headers["x-aigc-produce-id"]


def test_blocked_prompt_is_refused_and_never_reaches_the_model(stage):
    sim, _, proxy = stage
    before = sim_requests(sim)
    status, headers, body = chat(stage, "Tell me the forbidden things", 8, **{"x-request-id": "bad-prompt",
                                                                            "x-gpufleet-user": "alice"})
    assert status == 400
    assert json.loads(body)["error"]["code"] == "content_filter"
    assert "x-aigc-label" not in headers
    assert sim_requests(sim) == before
    log = [json.loads(line) for line in proxy.stdout_lines() if "bad-prompt" in line]
    assert len(log) == 1 and log[0]["direction"] == "prompt" and log[0]["decision"] == "block"
    assert log[0]["categories"] == ["political_content"] and log[0]["userHash"] and "alice" not in json.dumps(log)
    assert "text" not in log[0]


def test_blocked_phrase_mid_output_cuts_the_stream_at_the_last_screened_window(stage):
    _, _, proxy = stage
    status, _, body = chat(stage, "Describe the world", 40, **{"x-request-id": "bad-output"})
    assert status == 200
    evts = events(body)
    delivered = content(evts)
    # First window: "The sky is blue." (a sentence of >= 16 chars). The next sentence is below
    # 16 chars, so it waits for the third, which holds the phrase: both are withheld.
    assert delivered == "The sky is blue."
    assert "forbidden" not in body and "Water" not in body
    stop = [e for e in evts if isinstance(e, dict) and e.get("choices")][-1]
    assert stop["choices"][0]["finish_reason"] == "content_filter"
    assert [e for e in evts if isinstance(e, dict) and "error" in e][0]["error"]["code"] == "content_filter"
    assert evts[-1] == "[DONE]" and not [e for e in evts if isinstance(e, dict) and e.get("usage")]
    log = [json.loads(line) for line in proxy.stdout_lines() if "bad-output" in line]
    assert [(e["direction"], e["decision"]) for e in log] == [("output", "block")]


def test_moderation_outage_refuses_requests_fail_closed(stage):
    sim, green, proxy = stage
    before = sim_requests(sim)
    call(green.url + "/standin/config", {"status": 503})
    try:
        status, _, body = chat(stage, "What colour is the sky?", 8, **{"x-request-id": "outage-1"})
    finally:
        call(green.url + "/standin/config", {"status": 200})
    assert status == 503 and json.loads(body)["error"]["code"] == "moderation_unavailable"
    assert sim_requests(sim) == before
    call(green.url + "/standin/config", {"delayMs": 3000})  # beyond the proxy's 1500 ms timeout
    try:
        status, _, _ = chat(stage, "What colour is the sky?", 8, **{"x-request-id": "outage-2"})
    finally:
        call(green.url + "/standin/config", {"delayMs": 0})
    assert status == 503
    decisions = {json.loads(line)["requestId"]: json.loads(line)["decision"] for line in proxy.stdout_lines()}
    assert decisions["outage-1"] == "error" and decisions["outage-2"] == "timeout"
    metrics = call(proxy.metrics_url + "/metrics", method="GET")[2]
    assert 'gpufleet_moderation_errors_total{direction="prompt",kind="error",provider="aliyun-green"} 1.0' in metrics
    assert 'gpufleet_moderation_errors_total{direction="prompt",kind="timeout",provider="aliyun-green"} 1.0' in metrics
    assert 'gpufleet_moderation_blocks_total{category="political_content",direction="prompt"' in metrics


def test_outage_mid_stream_withholds_the_rest(stage):
    _, green, _ = stage
    # The prompt passes; output screening then fails: nothing unscreened is delivered.
    call(green.url + "/standin/config", {"status": 503, "failOnly": "llm_response_moderation"})
    try:
        status, _, body = chat(stage, "What colour is the sky?", 30)
    finally:
        call(green.url + "/standin/config", {"status": 200, "failOnly": None})
    evts = events(body)
    assert status == 200 and content(evts) == ""
    assert [e for e in evts if isinstance(e, dict) and e.get("choices")][-1]["choices"][0]["finish_reason"] == \
        "content_filter"
    assert [e for e in evts if isinstance(e, dict) and "error" in e][0]["error"]["code"] == "moderation_unavailable"


def test_fail_open_is_counted_and_logged_when_configured():
    with LocalServer(itl_ms=2, ttft_ms=5, jitter=0, output_text=ANSWER) as sim, \
            LocalProxy(upstream=sim.url, provider="custom", endpoint="http://127.0.0.1:9/unreachable",
                       fail_open=True) as proxy:
        status, _, body = call(proxy.url + "/v1/chat/completions", {
            "model": sim.model, "stream": True, "max_tokens": 4, "messages": [{"role": "user", "content": "hi"}]})
        assert status == 200 and content(events(body)) == "The sky is blue"
        decisions = [json.loads(line)["decision"] for line in proxy.stdout_lines()]
    assert decisions and set(decisions) == {"fail_open"}


def test_local_gate_of_a_cn_stack_goes_through_its_stage_and_a_global_one_does_not():
    from gpufleet.moderation.local_stage import stage_in_front

    with LocalServer(itl_ms=2, ttft_ms=5, jitter=0, output_text=ANSWER) as sim:
        with stage_in_front("prod-us-east-1", sim.url) as url:
            assert url == sim.url
        with stage_in_front("prod-cn-hangzhou", sim.url) as url:
            assert url != sim.url
            status, headers, body = call(url + "/v1/chat/completions", {
                "model": sim.model, "stream": True, "max_tokens": 4, "messages": [{"role": "user", "content": "hi"}]})
            refused = call(url + "/v1/chat/completions", {
                "model": sim.model, "messages": [{"role": "user", "content": "a forbidden-phrase here"}]})[0]
    assert status == 200 and json.loads(headers["x-aigc"])["ContentProducer"] == "Zhejiang-Assistant-202501010001"
    assert events(body)[0]["aigc"]["notice"] == "本内容由人工智能生成"
    assert refused == 400
