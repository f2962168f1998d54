"""The OpenAI-compatible shapes the stage reads and writes (vLLM's chat and completions APIs)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
CONTENT_FILTER = "content_filter"


def error_body(message: str, *, err_type: str, code: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": err_type, "param": param, "code": code}}


def prompt_refused() -> dict[str, Any]:
    return error_body("The request was refused by content moderation: the prompt contains content that "
                      "may not be processed.", err_type="invalid_request_error", code=CONTENT_FILTER,
                      param="messages")


def moderation_unavailable() -> dict[str, Any]:
    return error_body("Content moderation is unavailable, so the request was refused. Retry later.",
                      err_type="service_unavailable_error", code="moderation_unavailable")


def output_stopped(reason: str) -> dict[str, Any]:
    if reason == "unavailable":
        return error_body("Content moderation became unavailable; the rest of the output was withheld.",
                          err_type="service_unavailable_error", code="moderation_unavailable")
    return error_body("The output was stopped by content moderation.", err_type=CONTENT_FILTER, code=CONTENT_FILTER)


def _content(value: Any) -> str:
    """Message content: a string, or the text parts of a list of content parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(str(p.get("text", "")) for p in value if isinstance(p, Mapping) and p.get("type") == "text")
    return ""


def prompt_text(endpoint: str, body: Mapping[str, Any]) -> str:
    """All the text a client sends to the model; ValueError when some of it cannot be screened."""
    if endpoint == CHAT:
        messages = body.get("messages")
        if not isinstance(messages, list):
            raise ValueError("'messages' must be a list")
        for m in messages:
            parts = m.get("content") if isinstance(m, Mapping) else None
            if isinstance(parts, list) and any(isinstance(p, Mapping) and p.get("type") != "text" for p in parts):
                raise ValueError("only text content parts can be screened")
        return "\n".join(_content(m.get("content")) for m in messages if isinstance(m, Mapping))
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and all(isinstance(p, str) for p in prompt):
        return "\n".join(prompt)
    raise ValueError("'prompt' must be a string or a list of strings (token-id prompts cannot be screened)")


def delta_text(endpoint: str, chunk: Mapping[str, Any]) -> str:
    """The generated text one streamed chunk carries."""
    out = []
    for choice in chunk.get("choices") or ():
        if endpoint == CHAT:
            out.append(str((choice.get("delta") or {}).get("content") or ""))
        else:
            out.append(str(choice.get("text") or ""))
    return "".join(out)


def output_text(endpoint: str, body: Mapping[str, Any]) -> str:
    """The generated text of a non-streamed answer."""
    out = []
    for choice in body.get("choices") or ():
        out.append(str((choice.get("message") or {}).get("content") or "") if endpoint == CHAT
                   else str(choice.get("text") or ""))
    return "\n".join(out)


def filtered_body(endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    """A non-streamed answer whose output was blocked: no text, finish_reason content_filter."""
    for choice in body.get("choices") or ():
        if endpoint == CHAT:
            choice["message"] = {"role": "assistant", "content": ""}
        else:
            choice["text"] = ""
        choice["finish_reason"] = CONTENT_FILTER
    return body


def stop_chunk(endpoint: str, template: Mapping[str, Any] | None) -> dict[str, Any]:
    """The last chunk of a cut stream: no text, finish_reason content_filter."""
    t = template or {}
    choice: dict[str, Any] = {"index": 0, "finish_reason": CONTENT_FILTER}
    if endpoint == CHAT:
        choice["delta"] = {}
    else:
        choice["text"] = ""
    return {"id": t.get("id", "cut"), "object": t.get("object", "chat.completion.chunk" if endpoint == CHAT
                                                      else "text_completion"),
            "created": t.get("created", 0), "model": t.get("model", ""), "choices": [choice]}


def sse(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"
