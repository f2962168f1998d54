"""OpenAI-compatible request validation and response formatting, as vLLM does it.

Pure functions and small formatters: no HTTP, no clock. Error bodies and
messages copy vLLM's (``{"error": {"message", "type", "param", "code"}}``)
so clients see the same failures they would see in production.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gpufleet.tokens import count_chat_tokens, count_tokens

__all__ = [
    "ApiError",
    "CompletionRequest",
    "StreamFormatter",
    "DONE",
    "MALFORMED",
    "parse_request",
    "completion_body",
    "models_body",
    "usage",
    "dumps",
]

DONE = b"data: [DONE]\n\n"
MALFORMED = b'data: {"id": "malformed-by-simulator", "choices": [\n\n'
CHAT = "chat"
COMPLETIONS = "completions"


def dumps(obj: Any) -> str:
    """Compact JSON with raw UTF-8 (what vLLM's pydantic serializer emits)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class ApiError(Exception):
    """An error answered as vLLM's JSON ``ErrorResponse``."""

    def __init__(
        self,
        status: int,
        message: str,
        err_type: str = "BadRequestError",
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.err_type = err_type
        self.param = param

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.err_type,
                "param": self.param,
                "code": self.status,
            }
        }


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """What the simulator needs from a validated request."""

    endpoint: str
    prompt_tokens: int
    max_tokens: int
    stream: bool
    include_usage: bool


def _int_field(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"'{name}' must be an integer.", param=name)
    return value


def _prompt_tokens(endpoint: str, body: Mapping[str, Any]) -> int:
    if endpoint == CHAT:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ApiError(400, "'messages' must be a non-empty list of messages.", param="messages")
        try:
            return count_chat_tokens(messages)
        except ValueError as exc:
            raise ApiError(400, f"Invalid 'messages': {exc}.", param="messages") from None
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if isinstance(prompt, str):
        return count_tokens(prompt)
    if (
        isinstance(prompt, list)
        and prompt
        and all(isinstance(t, int) and not isinstance(t, bool) for t in prompt)
    ):
        return len(prompt)
    raise ApiError(
        400,
        "'prompt' must be a string, a list with one string, or a list of token ids.",
        param="prompt",
    )


def parse_request(
    endpoint: str,
    body: Any,
    *,
    served_model: str,
    default_max_tokens: int,
    max_model_len: int,
) -> CompletionRequest:
    """Validate a chat/completions request body in vLLM's order and wording."""
    if endpoint not in (CHAT, COMPLETIONS):
        raise ValueError(f"unknown endpoint {endpoint!r}")
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object.")
    model = body.get("model")
    if model is not None and model != served_model:
        raise ApiError(404, f"The model `{model}` does not exist.", "NotFoundError", "model")

    prompt_tokens = _prompt_tokens(endpoint, body)

    max_tokens = None
    if endpoint == CHAT:
        max_tokens = _int_field(body, "max_completion_tokens")
    if max_tokens is None:
        max_tokens = _int_field(body, "max_tokens")
    if max_tokens is None:
        max_tokens = default_max_tokens
    if max_tokens < 1:
        raise ApiError(400, f"max_tokens must be at least 1, got {max_tokens}.", param="max_tokens")

    n = _int_field(body, "n")
    if n is not None and n != 1:
        raise ApiError(400, f"n must be 1 in the simulator, got {n}.", param="n")

    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise ApiError(400, "'stream' must be a boolean.", param="stream")
    options = body.get("stream_options")
    include_usage = False
    if options is not None:
        if not stream:
            raise ApiError(400, "Stream options can only be defined when `stream=True`.", param="stream_options")
        if not isinstance(options, dict):
            raise ApiError(400, "'stream_options' must be an object.", param="stream_options")
        include_usage = options.get("include_usage", False)
        if not isinstance(include_usage, bool):
            raise ApiError(400, "'stream_options.include_usage' must be a boolean.", param="stream_options")

    if prompt_tokens >= max_model_len:
        raise ApiError(
            400,
            f"This model's maximum context length is {max_model_len} tokens. However, "
            f"your request has {prompt_tokens} input tokens. Please reduce the length "
            "of the input messages.",
            param="input_tokens",
        )
    if prompt_tokens + max_tokens > max_model_len:
        raise ApiError(
            400,
            f"'max_tokens' or 'max_completion_tokens' is too large: {max_tokens}. This "
            f"model's maximum context length is {max_model_len} tokens and your request "
            f"has {prompt_tokens} input tokens ({max_tokens} > {max_model_len} - {prompt_tokens}).",
            param="max_tokens",
        )
    return CompletionRequest(endpoint, prompt_tokens, max_tokens, stream, include_usage)


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "completion_tokens": completion_tokens,
        "prompt_tokens_details": None,
    }


class StreamFormatter:
    """SSE events of one streamed response, with the constant parts pre-encoded."""

    __slots__ = ("endpoint", "_head", "_role", "_usage_head")

    def __init__(self, endpoint: str, response_id: str, created: int, model: str) -> None:
        self.endpoint = endpoint
        obj = "chat.completion.chunk" if endpoint == CHAT else "text_completion"
        common = f'{{"id":{dumps(response_id)},"object":"{obj}","created":{created},"model":{dumps(model)},'
        if endpoint == CHAT:
            self._head = (common + '"choices":[{"index":0,"delta":{"content":').encode()
            self._role = (
                "data: "
                + common
                + '"choices":[{"index":0,"delta":{"role":"assistant","content":""},'
                + '"logprobs":null,"finish_reason":null}]}\n\n'
            ).encode()
        else:
            self._head = (common + '"choices":[{"index":0,"text":').encode()
            self._role = b""
        self._usage_head = ("data: " + common + '"choices":[],"usage":').encode()

    def tokens(self, text: str, finish_reason: str | None = None, first: bool = False) -> bytes:
        """One chunk carrying ``text``; the first chat chunk is preceded by the
        role chunk, like vLLM sends it."""
        finish = "null" if finish_reason is None else f'"{finish_reason}"'
        tail = "}" if self.endpoint == CHAT else ""
        event = (
            b"data: "
            + self._head
            + dumps(text).encode()
            + f'{tail},"logprobs":null,"finish_reason":{finish}}}]}}\n\n'.encode()
        )
        return self._role + event if first else event

    def usage(self, prompt_tokens: int, completion_tokens: int) -> bytes:
        """The final ``include_usage`` chunk (empty ``choices``)."""
        return self._usage_head + dumps(usage(prompt_tokens, completion_tokens)).encode() + b"}\n\n"


def completion_body(
    endpoint: str,
    response_id: str,
    created: int,
    model: str,
    text: str,
    prompt_tokens: int,
    completion_tokens: int,
) -> dict[str, Any]:
    """Non-streamed response body; generation always stops on max_tokens."""
    if endpoint == CHAT:
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": text, "tool_calls": []},
            "logprobs": None,
            "finish_reason": "length",
            "stop_reason": None,
        }
        obj = "chat.completion"
    else:
        choice = {
            "index": 0,
            "text": text,
            "logprobs": None,
            "finish_reason": "length",
            "stop_reason": None,
        }
        obj = "text_completion"
    return {
        "id": response_id,
        "object": obj,
        "created": created,
        "model": model,
        "choices": [choice],
        "usage": usage(prompt_tokens, completion_tokens),
    }


def models_body(model: str, created: int, max_model_len: int) -> dict[str, Any]:
    """``GET /v1/models`` as vLLM answers it for one served model."""
    return {
        "object": "list",
        "data": [
            {
                "id": model,
                "object": "model",
                "created": created,
                "owned_by": "vllm",
                "root": model,
                "parent": None,
                "max_model_len": max_model_len,
                "permission": [
                    {
                        "id": f"modelperm-{model}",
                        "object": "model_permission",
                        "created": created,
                        "allow_create_engine": False,
                        "allow_sampling": True,
                        "allow_logprobs": True,
                        "allow_search_indices": False,
                        "allow_view": True,
                        "allow_fine_tuning": False,
                        "organization": "*",
                        "group": None,
                        "is_blocking": False,
                    }
                ],
            }
        ],
    }
