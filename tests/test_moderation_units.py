"""The moderation stage's pure parts: windows, request/answer shapes, labels, settings, decisions,
and the Green provider reading real SDK models (no network)."""

from __future__ import annotations

import io
import json
from urllib.parse import unquote

import pytest
from alibabacloud_green20220302 import models as green_models

from gpufleet.moderation import openai
from gpufleet.moderation.decisions import DecisionLog, hash_user
from gpufleet.moderation.green import client_config, region_of, verdict_of
from gpufleet.moderation.labels import new_label
from gpufleet.moderation.providers import ModerationError
from gpufleet.moderation.settings import ProxySettings, settings_from_argv, settings_to_argv
from gpufleet.moderation.standin import parse_block
from gpufleet.moderation.window import OutputWindow, segments


def window(**kw) -> OutputWindow:
    return OutputWindow(**{"min_chars": 8, "first_chars": 12, "max_chars": 40, "overlap": 5, **kw})


def test_first_window_is_short_then_sentences_or_max_chars():
    w = window()
    w.add("Hello wor")
    assert not w.due()
    w.add("ld!")  # 12 chars: the first window's limit
    assert w.due()
    assert w.release() == "Hello world!"
    w.add(" Short.")  # 7 chars ends a sentence but is below min_chars
    assert not w.due()
    w.add(" Longer one.")
    assert w.due() and w.text_to_screen() == "orld! Short. Longer one."  # overlap: last 5 released chars
    w.release()
    w.add("x" * 39)
    assert not w.due()
    w.add("x")
    assert w.due()


def test_text_held_too_long_is_screened_whatever_its_size():
    w = window(max_hold_s=0.4, first_chars=100, min_chars=100)
    w.add("慢", now=10.0)
    w.add("慢", now=10.3)
    assert not w.due(now=10.39)
    assert w.due(now=10.4)
    w.release()
    assert w.held_at is None and not w.due(now=99.0)


def test_chinese_sentence_ends_count():
    w = window(first_chars=100)
    w.add("今天天气很好，我们去公园。")
    assert w.due()


def test_segments_cover_long_text_with_overlap():
    text = "".join(chr(0x4E00 + i % 500) for i in range(4500))
    parts = segments(text, 2000, 50)
    assert all(len(p) <= 2000 for p in parts)
    assert parts[0] == text[:2000] and parts[1].startswith(text[1950:2000])
    assert "".join(p[50:] if i else p for i, p in enumerate(parts)).startswith(text[:4400])
    assert segments("short", 2000, 50) == ["short"]


def test_prompt_text_reads_every_message_and_refuses_what_it_cannot_screen():
    body = {"messages": [{"role": "system", "content": "be kind"},
                         {"role": "user", "content": [{"type": "text", "text": "hello"}]}]}
    assert openai.prompt_text(openai.CHAT, body) == "be kind\nhello"
    assert openai.prompt_text(openai.COMPLETIONS, {"prompt": ["a", "b"]}) == "a\nb"
    with pytest.raises(ValueError, match="token-id prompts cannot be screened"):
        openai.prompt_text(openai.COMPLETIONS, {"prompt": [1, 2, 3]})
    with pytest.raises(ValueError, match="only text content parts can be screened"):
        openai.prompt_text(openai.CHAT, {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})


def test_blocked_non_streamed_answer_keeps_no_text():
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "bad"}, "finish_reason": "stop"}]}
    out = openai.filtered_body(openai.CHAT, body)
    assert out["choices"][0] == {"index": 0, "message": {"role": "assistant", "content": ""},
                                 "finish_reason": "content_filter"}


def test_labels_carry_gb45438_fields_in_headers_and_metadata():
    label = new_label("Zhejiang-Assistant-202501010001", "本内容由人工智能生成")
    meta = label.metadata()
    assert meta["Label"] == "1" and meta["ContentProducer"] == "Zhejiang-Assistant-202501010001"
    assert len(meta["ProduceID"]) == 32 and meta["notice"] == "本内容由人工智能生成"
    headers = label.headers()
    assert all(v.isascii() for v in headers.values())
    assert json.loads(headers["x-aigc"]) == {k: meta[k] for k in ("Label", "ContentProducer", "ProduceID")}
    assert unquote(headers["x-aigc-notice"]) == "本内容由人工智能生成"
    assert "x-aigc-notice" not in new_label("svc", None).headers()


def test_decisions_hash_the_user_and_keep_text_only_when_allowed():
    out = io.StringIO()
    log = DecisionLog("prod-cn-hangzhou", "aliyun-green", log_raw_text=False, stream=out)
    log.record(request_id="r1", user_hash=hash_user("alice", "prod-cn-hangzhou"), direction="prompt",
               decision="block", categories=("political_content",), risk_level="high", text="secret words")
    entry = json.loads(out.getvalue())
    assert entry["userHash"] == hash_user("alice", "prod-cn-hangzhou") and "alice" not in out.getvalue()
    assert "text" not in entry and entry["categories"] == ["political_content"] and entry["direction"] == "prompt"
    out = io.StringIO()
    DecisionLog("s", "p", log_raw_text=True, stream=out).record(request_id="r", user_hash=None, direction="output",
                                                                 decision="timeout", text="kept")
    assert json.loads(out.getvalue())["text"] == "kept"
    assert hash_user(None, "s") is None


def test_settings_round_trip_through_the_command_line():
    s = ProxySettings(upstream="http://vllm:8000", provider="aliyun-green",
                      endpoint="https://green-cip.cn-hangzhou.aliyuncs.com", fail_open=True,
                      block_levels=("high",), metrics_port=9090, explicit_notice="本内容由人工智能生成")
    assert settings_from_argv(settings_to_argv(s)) == s


@pytest.mark.parametrize(("changes", "message"), [
    ({"provider": "openai"}, "provider must be one of aliyun-green, custom, noop; got 'openai'"),
    ({"provider": "custom"}, "provider 'custom' needs an endpoint"),
    ({"timeout_ms": 10}, "timeout_ms must be between 50 and 30000; got 10"),
    ({"block_levels": ("severe",)}, "block levels must be among high, medium, low, none; got severe"),
    ({"first_window_chars": 500}, "need 1 <= first_window_chars, min_window_chars <= window_chars"),
])
def test_bad_settings_are_refused(changes, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        ProxySettings(upstream="http://x", **changes).validate()


def _body(data: dict) -> green_models.TextModerationPlusResponseBody:
    return green_models.TextModerationPlusResponseBody().from_map(data)


def test_green_verdicts_from_the_sdk_response_model():
    high = _body({"Code": 200, "RequestId": "R1", "Data": {"RiskLevel": "high", "Result": [
        {"Label": "political_content", "Confidence": 99.0}]}})
    assert verdict_of(high, ("high", "medium")).blocked
    assert verdict_of(high, ("high",)).categories == ("political_content",)
    low = _body({"Code": 200, "Data": {"RiskLevel": "low", "Result": [{"Label": "nonLabel"}]}})
    assert not verdict_of(low, ("high", "medium")).blocked and verdict_of(low, ("high",)).categories == ()
    with pytest.raises(ModerationError, match="answered code 400"):
        verdict_of(_body({"Code": 400, "Message": "bad"}), ("high",))
    with pytest.raises(ModerationError, match="no valid RiskLevel"):
        verdict_of(_body({"Code": 200, "Data": {}}), ("high",))


def test_green_client_config_takes_endpoint_and_region_never_keys():
    cfg = client_config("https://green-cip.cn-beijing.aliyuncs.com", 1500, credential=object())
    assert (cfg.endpoint, cfg.protocol, cfg.region_id) == ("green-cip.cn-beijing.aliyuncs.com", "https", "cn-beijing")
    assert cfg.access_key_id is None and cfg.access_key_secret is None
    assert region_of("https://green-cip-vpc.cn-shanghai.aliyuncs.com") == "cn-shanghai"
    with pytest.raises(ValueError, match="must be an http\\(s\\) URL"):
        client_config("green-cip.cn-beijing.aliyuncs.com", 1500, credential=object())


def test_standin_block_words():
    assert parse_block(["forbidden=political_content", "x"]) == {"forbidden": "political_content",
                                                                 "x": "political_content"}
    with pytest.raises(ValueError, match="--block needs WORD"):
        parse_block(["=label"])
