"""Parse OpenAI-compatible responses and decide each request's outcome.

Pure: the network code feeds it body bytes (or lines) with arrival times, so
every failure kind (error event, malformed chunk, missing [DONE], missing
usage) is tested without a server. Token counts come only from the server's
`usage` object; chunks are never counted as tokens (a chunk may carry
several tokens).

The hot path is `StreamParser.body` (`feed(data, at)` from tests and the TLS
path): events split in bulk on blank lines, every event of a read stamped
with the read's time (they arrived together), a single-line `data:` event
parsed without building per-line strings, the usual content chunk decoded
by msgspec into the few fields that count. Anything unusual (CRLF line
ends, comments, multi-line events, other fields, other chunk shapes) goes
through the line-by-line path and the json module, which implement the
whole SSE grammar and every rule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from msgspec import UNSET, DecodeError, Struct, UnsetType
from msgspec.json import Decoder

from gpufleet.loadtest.records import Outcome

CHAT = "chat"
COMPLETIONS = "completions"


@dataclass
class Parsed:
    """What a response said, independent of how long it took."""

    outcome: Outcome
    content_times: list[float] = field(default_factory=list)  # arrival of each content chunk
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    error: str = ""
    content_chars: int = 0  # characters of generated text (for the usage cross-check)


def _usage_counts(usage: Any) -> tuple[int, int] | str:
    """(prompt, completion) tokens, or a message saying why the usage object is unusable."""
    if not isinstance(usage, dict):
        return "usage is not an object"
    counts = []
    for key in ("prompt_tokens", "completion_tokens"):
        value = usage.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return f"usage.{key} is not a non-negative integer: {value!r}"
        counts.append(value)
    return counts[0], counts[1]


def _choice_text(endpoint: str, choice: Any, *, stream: bool) -> str | None:
    """Generated text carried by one choice; None if the choice has the wrong shape."""
    if not isinstance(choice, dict):
        return None
    if endpoint == COMPLETIONS:
        text = choice.get("text", "")
        return text if isinstance(text, str) else None
    part = choice.get("delta" if stream else "message")
    if part is None:
        return ""
    if not isinstance(part, dict):
        return None
    texts = []
    for key in ("content", "reasoning_content", "reasoning"):
        value = part.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            return None
        texts.append(value)
    return "".join(texts)


def _not_sse(line: str) -> tuple[Outcome, str]:
    """A line that is not SSE: a JSON error body (e.g. a 200 carrying {"error": ...}) is the server's
    error answer; anything else is a malformed stream."""
    if line.startswith("{"):
        try:
            obj = json.loads(line)
        except ValueError:
            obj = None
        if isinstance(obj, dict) and "error" in obj:
            return Outcome.HTTP_ERROR, f"error body: {_error_message(obj)}"
    return Outcome.MALFORMED, f"not a server-sent-event line: {line[:80]!r}"


def _error_message(obj: dict[str, Any]) -> str:
    err = obj.get("error")
    if isinstance(err, dict):
        return str(err.get("message") or err)[:200]
    return str(err)[:200]


class StreamParser:
    """Consumes server-sent-event lines of one streamed completion.

    Feed every line (without the line terminator) with its arrival time;
    `finished` turns true at `[DONE]` or at the first line that decides a
    failure, after which the caller should stop reading.
    """

    def __init__(self, endpoint: str) -> None:
        if endpoint not in (CHAT, COMPLETIONS):
            raise ValueError(f"endpoint must be '{CHAT}' or '{COMPLETIONS}', got {endpoint!r}")
        self.endpoint = endpoint
        self._completions = endpoint == COMPLETIONS
        self._decode = (_TEXT_CHUNK if self._completions else _CHAT_CHUNK).decode
        self._data: list[str] = []
        self._pending = b""  # bytes of an event whose blank line has not arrived yet
        self._by_line = False  # switched to the line-by-line path for the rest of the stream
        self._content_times: list[float] = []
        self.content_chars = 0  # characters of generated text so far
        self.done_at: float | None = None  # arrival of [DONE]
        self._usage: tuple[int, int] | None = None
        self.at = 0.0  # arrival of the bytes `body` is given
        self._done = False
        self._failure: tuple[Outcome, str] | None = None
        self.finished = False  # [DONE] came or a failure was decided (an attribute: read once per read)

    def _fail(self, outcome: Outcome, error: str) -> None:
        self._failure = (outcome, error)
        self.finished = True

    @property
    def done(self) -> bool:
        """[DONE] arrived and nothing before it decided a failure."""
        return self._done and self._failure is None

    @property
    def content_times(self) -> list[float]:
        """Arrival times of content chunks so far (the live list, for partial records)."""
        return self._content_times

    def feed(self, data: bytes, at: float) -> None:
        """Body bytes of one read, all arrived at `at` (perf_counter seconds)."""
        self.at = at
        self.body(data)

    def body(self, data: bytes | bytearray) -> None:
        """The hot path: body bytes that arrived at `self.at` (the reader hands llhttp's pieces here).

        A single-line `data:` event whose JSON is the usual content chunk is handled by `_content`
        (a read that is exactly one such event is not even split). Everything else ([DONE], usage,
        errors, JSON the typed decoder refuses, odd shapes) goes through `_handle`, which parses
        with the json module and applies every rule; so outcomes are json's, and a content chunk's
        text is the same string either way."""
        if self.finished or not data:
            return
        at = self.at
        if self._pending or self._by_line:
            buf = self._pending + data
        else:  # the usual read: exactly one single-line data event, no CR, checked without copies
            buf = data
            end = len(buf) - 2
            if 13 not in buf and buf.find(10) == end and buf[-1] == 10 and buf.startswith(b"data: "):
                if not self._content(buf[6:end], at):
                    self._handle(bytes(buf[6:end]), at)
                return
        if self._by_line or 13 in buf:  # 13: CR, whose line ends only the line-by-line path knows
            self._feed_lines(buf, at)
            return
        events = buf.split(b"\n\n")
        self._pending = events.pop()
        for event in events:
            if event[:6] == b"data: " and b"\n" not in event:
                if not self._content(event[6:], at):
                    self._handle(event[6:], at)
            elif event:
                self._lines(event.split(b"\n") + [b""], at)
            if self.finished:
                return

    def _content(self, data: bytes | bytearray, at: float) -> bool:
        """True when `data` is the usual content chunk (then it is counted); False: `_handle` decides.

        The typed decoders build only the fields that count and refuse every other shape (an
        `error` key, a non-null `usage`, reasoning fields, a wrong type), which `_handle` re-reads."""
        try:
            chunk = self._decode(data)
        except DecodeError:
            return False
        choices = chunk.choices
        if self._completions:
            chars = len(choices[0].text) if len(choices) == 1 else sum(len(c.text) for c in choices)
        else:
            chars = sum(len(c.delta.content) for c in choices if c.delta is not None and c.delta.content)
        if chars:
            self.content_chars += chars
            self._content_times.append(at)
        return True

    def _feed_lines(self, buf: bytes, at: float) -> None:
        """The general path: whole lines through `feed_line`, the partial last line kept."""
        self._by_line = True
        lines = buf.split(b"\n")
        self._pending = lines.pop()
        self._lines(lines, at)

    def _lines(self, lines: list[bytes], at: float) -> None:
        for raw in lines:
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                self._fail(Outcome.MALFORMED, f"chunk is not UTF-8: {exc}"[:200])
                return
            self.feed_line(line[:-1] if line.endswith("\r") else line, at)
            if self.finished:
                return

    def feed_line(self, line: str, at: float) -> None:
        if self.finished:
            return
        if line == "":
            self._dispatch(at)
        elif line.startswith(":"):
            return  # SSE comment / keep-alive
        elif line.startswith("data:"):
            value = line[5:]
            self._data.append(value[1:] if value.startswith(" ") else value)
        elif line.startswith(("event:", "id:", "retry:")):
            return
        else:
            self._fail(*_not_sse(line))

    def end(self, at: float) -> Parsed:
        """The connection ended (cleanly or not): the final outcome, with the characters streamed."""
        parsed = self._end(at)
        parsed.content_chars = self.content_chars
        return parsed

    def _end(self, at: float) -> Parsed:
        if not self.finished and self._pending and b"\n" not in self._pending and not self._content_times:
            # the whole body is one unterminated line: a plain body, e.g. a 200 with a JSON error
            self._fail(*_not_sse(self._pending.decode("utf-8", "replace").strip()))
        if not self.finished and self._pending:  # a last event with complete lines but no blank line
            complete = self._pending[:self._pending.rfind(b"\n") + 1]
            self._pending = b""
            if complete:
                self._feed_lines(complete, at)
        if not self.finished and self._data:
            self._dispatch(at)  # last event without its blank line
        if self._failure is not None:
            outcome, error = self._failure
            return Parsed(outcome, self._content_times, *self._usage_or_none(), error=error)
        if not self._done:
            return Parsed(Outcome.TRUNCATED, self._content_times, *self._usage_or_none(),
                          error="stream ended without [DONE]")
        if self._usage is None:
            return Parsed(Outcome.MISSING_USAGE, self._content_times, error="stream carried no usage object")
        if not self._content_times:
            return Parsed(Outcome.NO_CONTENT, self._content_times, *self._usage, error="stream carried no text")
        return Parsed(Outcome.OK, self._content_times, *self._usage)

    def _usage_or_none(self) -> tuple[int | None, int | None]:
        return self._usage if self._usage is not None else (None, None)

    def _dispatch(self, at: float) -> None:
        if not self._data:
            return
        data = "\n".join(self._data)
        self._data = []
        self._handle(data, at)

    def _handle(self, data: str | bytes, at: float) -> None:
        """One event's data (bytes on the fast path, str from the line path)."""
        if data == b"[DONE]" or data == "[DONE]":
            self._done = self.finished = True
            self.done_at = at
            return
        try:
            obj = json.loads(data)
        except ValueError:
            self._fail(Outcome.MALFORMED, f"chunk is not JSON: {_text(data)[:80]!r}")
            return
        self._general(obj, data, at)

    def _general(self, obj: Any, data: str | bytes, at: float) -> None:
        """Every shape check (a usual content chunk comes out as `_content` counts it)."""
        if not isinstance(obj, dict):
            self._fail(Outcome.MALFORMED, f"chunk is not a JSON object: {_text(data)[:80]!r}")
            return
        if "error" in obj:
            self._fail(Outcome.HTTP_ERROR, f"error event: {_error_message(obj)}")
            return
        if obj.get("usage") is not None:
            counts = _usage_counts(obj["usage"])
            if isinstance(counts, str):
                self._fail(Outcome.MALFORMED, counts)
                return
            self._usage = counts
        choices = obj.get("choices")
        if not isinstance(choices, list):
            self._fail(Outcome.MALFORMED, "chunk has no 'choices' list")
            return
        chars = 0
        for choice in choices:
            text = _choice_text(self.endpoint, choice, stream=True)
            if text is None:
                self._fail(Outcome.MALFORMED, "chunk choice has an unexpected shape")
                return
            chars += len(text)
        if chars:
            self.content_chars += chars
            self._content_times.append(at)


class _TextChoice(Struct):
    text: str = ""


class _Delta(Struct):
    content: str | None = None
    reasoning_content: UnsetType = UNSET  # present at all: the general path joins it
    reasoning: UnsetType = UNSET


class _ChatChoice(Struct):
    delta: _Delta | None = None


class _TextChunk(Struct):
    """A streamed completions chunk, as far as counting goes (other keys are skipped)."""

    choices: list[_TextChoice]
    usage: None = None  # a usage object: the general path
    error: UnsetType = UNSET  # an error key: the general path


class _ChatChunk(Struct):
    """A streamed chat chunk, as far as counting goes (other keys are skipped)."""

    choices: list[_ChatChoice]
    usage: None = None
    error: UnsetType = UNSET


_TEXT_CHUNK = Decoder(_TextChunk)
_CHAT_CHUNK = Decoder(_ChatChunk)


def _text(data: str | bytes | bytearray) -> str:
    return data if type(data) is str else data.decode("utf-8", "replace")


def parse_body(endpoint: str, status: int, body: bytes) -> Parsed:
    """Outcome of a non-streamed response (or of any response with an error status)."""
    if status >= 400:
        return Parsed(Outcome.HTTP_ERROR, error=f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}")
    try:
        obj = json.loads(body)
    except ValueError:
        return Parsed(Outcome.MALFORMED, error=f"body is not JSON: {body[:80]!r}")
    if not isinstance(obj, dict):
        return Parsed(Outcome.MALFORMED, error="body is not a JSON object")
    if "error" in obj:
        return Parsed(Outcome.HTTP_ERROR, error=f"error body: {_error_message(obj)}")
    choices = obj.get("choices")
    if not isinstance(choices, list):
        return Parsed(Outcome.MALFORMED, error="body has no 'choices' list")
    texts = [_choice_text(endpoint, c, stream=False) for c in choices]
    if any(t is None for t in texts):
        return Parsed(Outcome.MALFORMED, error="body choice has an unexpected shape")
    if obj.get("usage") is None:
        return Parsed(Outcome.MISSING_USAGE, error="body carried no usage object")
    counts = _usage_counts(obj["usage"])
    if isinstance(counts, str):
        return Parsed(Outcome.MALFORMED, error=counts)
    if not any(texts):
        return Parsed(Outcome.NO_CONTENT, prompt_tokens=counts[0], output_tokens=counts[1],
                      error="response carried no text")
    return Parsed(Outcome.OK, prompt_tokens=counts[0], output_tokens=counts[1],
                  content_chars=sum(len(t) for t in texts if t))
