"""OpenAI/vLLM request validation and response formats."""

from __future__ import annotations

import json

import pytest

from gpufleet.simserver.protocol import (
    ApiError,
    CompletionRequest,
    StreamFormatter,
    completion_body,
    models_body,
    parse_request,
)
from gpufleet.tokens import count_chat_tokens

MODEL = "org/model-8b"
MESSAGES = [{"role": "user", "content": "hello there 你好"}]


def parse(endpoint: str, body: object, max_model_len: int = 1000) -> CompletionRequest:
    return parse_request(endpoint, body, served_model=MODEL, default_max_tokens=128, max_model_len=max_model_len)


def test_chat_request_defaults() -> None:
    req = parse("chat", {"model": MODEL, "messages": MESSAGES})
    assert req == CompletionRequest("chat", count_chat_tokens(MESSAGES), 128, False, False)
    assert req.prompt_tokens == 2 + 2 + 1 + 4


def test_model_may_be_omitted_like_in_vllm() -> None:
    assert parse("chat", {"messages": MESSAGES}).max_tokens == 128


def test_max_completion_tokens_wins_over_max_tokens_for_chat() -> None:
    req = parse("chat", {"messages": MESSAGES, "max_tokens": 5, "max_completion_tokens": 9, "stream": True,
                         "stream_options": {"include_usage": True}})
    assert (req.max_tokens, req.stream, req.include_usage) == (9, True, True)


def test_completions_prompt_forms() -> None:
    assert parse("completions", {"prompt": "one two three"}).prompt_tokens == 3
    assert parse("completions", {"prompt": ["一二三四"]}).prompt_tokens == 4
    assert parse("completions", {"prompt": [1, 2, 3, 4, 5], "max_tokens": 2}).prompt_tokens == 5


def err(endpoint: str, body: object, max_model_len: int = 1000) -> ApiError:
    with pytest.raises(ApiError) as info:
        parse(endpoint, body, max_model_len)
    return info.value


def test_wrong_model_is_a_404_not_found_error() -> None:
    e = err("chat", {"model": "gpt-4", "messages": MESSAGES})
    assert e.status == 404
    assert e.body() == {
        "error": {"message": "The model `gpt-4` does not exist.", "type": "NotFoundError", "param": "model", "code": 404}
    }


@pytest.mark.parametrize(
    ("endpoint", "body", "message"),
    [
        ("chat", [1], "Request body must be a JSON object."),
        ("chat", {"messages": []}, "'messages' must be a non-empty list of messages."),
        ("chat", {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
         "Invalid 'messages': only text content parts are supported."),
        ("completions", {"prompt": {"a": 1}}, "'prompt' must be a string, a list with one string, or a list of token ids."),
        ("chat", {"messages": MESSAGES, "max_tokens": 0}, "max_tokens must be at least 1, got 0."),
        ("chat", {"messages": MESSAGES, "max_tokens": "10"}, "'max_tokens' must be an integer."),
        ("chat", {"messages": MESSAGES, "n": 2}, "n must be 1 in the simulator, got 2."),
        ("chat", {"messages": MESSAGES, "stream": "yes"}, "'stream' must be a boolean."),
        ("chat", {"messages": MESSAGES, "stream_options": {"include_usage": True}},
         "Stream options can only be defined when `stream=True`."),
        ("chat", {"messages": MESSAGES, "stream": True, "stream_options": {"include_usage": 1}},
         "'stream_options.include_usage' must be a boolean."),
    ],
)
def test_bad_requests_get_vllm_style_400s(endpoint: str, body: object, message: str) -> None:
    e = err(endpoint, body)
    assert (e.status, e.message, e.err_type) == (400, message, "BadRequestError")


def test_context_length_errors_use_vllm_wording() -> None:
    e = err("completions", {"prompt": "a " * 20}, max_model_len=20)
    assert e.message == (
        "This model's maximum context length is 20 tokens. However, your request has 20 input "
        "tokens. Please reduce the length of the input messages."
    )
    e = err("completions", {"prompt": "a " * 10, "max_tokens": 15}, max_model_len=20)
    assert e.message == (
        "'max_tokens' or 'max_completion_tokens' is too large: 15. This model's maximum context "
        "length is 20 tokens and your request has 10 input tokens (15 > 20 - 10)."
    )


def sse_events(data: bytes) -> list[str]:
    return [part[len("data: "):] for part in data.decode().split("\n\n") if part]


def test_chat_stream_chunks_follow_openai_format() -> None:
    f = StreamFormatter("chat", "chatcmpl-1", 1700000000, MODEL)
    events = sse_events(f.tokens(" hi", first=True) + f.tokens("的 x", "length") + f.usage(9, 3))
    role, first, last, usage = (json.loads(e) for e in events)
    assert role["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert first == {
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000, "model": MODEL,
        "choices": [{"index": 0, "delta": {"content": " hi"}, "logprobs": None, "finish_reason": None}],
    }
    assert last["choices"][0] == {"index": 0, "delta": {"content": "的 x"}, "logprobs": None, "finish_reason": "length"}
    assert usage["choices"] == []
    assert usage["usage"] == {"prompt_tokens": 9, "total_tokens": 12, "completion_tokens": 3, "prompt_tokens_details": None}


def test_completions_stream_chunks_carry_text() -> None:
    f = StreamFormatter("completions", "cmpl-2", 1, MODEL)
    events = [json.loads(e) for e in sse_events(f.tokens('a"\n', first=True))]
    assert len(events) == 1
    assert events[0]["object"] == "text_completion"
    assert events[0]["choices"][0] == {"index": 0, "text": 'a"\n', "logprobs": None, "finish_reason": None}


def test_non_streamed_bodies() -> None:
    chat = completion_body("chat", "chatcmpl-3", 5, MODEL, " ok", 7, 1)
    assert chat["object"] == "chat.completion"
    assert chat["choices"][0]["message"] == {"role": "assistant", "content": " ok", "tool_calls": []}
    assert chat["choices"][0]["finish_reason"] == "length"
    assert chat["usage"] == {"prompt_tokens": 7, "total_tokens": 8, "completion_tokens": 1, "prompt_tokens_details": None}
    plain = completion_body("completions", "cmpl-3", 5, MODEL, " ok", 7, 1)
    assert plain["object"] == "text_completion" and plain["choices"][0]["text"] == " ok"


def test_models_body() -> None:
    body = models_body(MODEL, 123, 8192)
    assert body["object"] == "list"
    (card,) = body["data"]
    assert (card["id"], card["owned_by"], card["root"], card["max_model_len"]) == (MODEL, "vllm", MODEL, 8192)
