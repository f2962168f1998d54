"""The response parser decides outcomes from lines alone; tokens come only from usage."""

from __future__ import annotations

import json

import pytest

from common.sse import StreamParser, parse_body
from gpufleet.loadtest.records import Outcome  # noqa: E402


def chunk(content: str | None = None, *, usage: dict | None = None, choices: list | None = None) -> str:
    if choices is None:
        choices = [] if content is None else [{"index": 0, "delta": {"content": content}}]
    obj = {"id": "c1", "object": "chat.completion.chunk", "choices": choices}
    if usage is not None:
        obj["usage"] = usage
    return "data: " + json.dumps(obj)


def feed(lines: list[str], endpoint: str = "chat"):
    parser = StreamParser(endpoint)
    for at, line in enumerate(lines):
        parser.feed_line(line, float(at))
        if line != "":
            parser.feed_line("", float(at))
    return parser.end(float(len(lines)))


USAGE = {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}


def test_a_complete_stream_reports_server_usage_not_chunk_counts():
    parsed = feed([chunk(choices=[{"index": 0, "delta": {"role": "assistant", "content": ""}}]),
                   chunk("Hello"), chunk(" big"), chunk(" world"), chunk(usage=USAGE), "data: [DONE]"])
    assert parsed.outcome is Outcome.OK
    assert (parsed.prompt_tokens, parsed.output_tokens) == (12, 7)  # 3 chunks, 7 tokens
    assert parsed.content_times == [1.0, 2.0, 3.0]  # the role-only first chunk is not a token
    assert parsed.error == ""


def test_completions_chunks_carry_text():
    lines = ['data: {"choices": [{"index": 0, "text": "Hi"}]}', chunk(usage=USAGE), "data: [DONE]"]
    parsed = feed(lines, "completions")
    assert (parsed.outcome, parsed.content_times, parsed.output_tokens) == (Outcome.OK, [0.0], 7)


def test_reasoning_content_counts_as_generated_text():
    parsed = feed([chunk(choices=[{"index": 0, "delta": {"reasoning_content": "think"}}]), chunk(usage=USAGE),
                   "data: [DONE]"])
    assert parsed.outcome is Outcome.OK and parsed.content_times == [0.0]


def test_sse_comments_and_multi_line_events():
    parser = StreamParser("chat")
    for line in [": keep-alive", "", 'data: {"choices": [{"index": 0,', 'data: "delta": {"content": "x"}}]}', "",
                 chunk(usage=USAGE), "", "data: [DONE]", ""]:
        parser.feed_line(line, 5.0)
    assert parser.done
    assert parser.end(6.0).outcome is Outcome.OK


@pytest.mark.parametrize(
    ("lines", "outcome", "error"),
    [
        ([chunk("a"), chunk(usage=USAGE)], Outcome.TRUNCATED, "stream ended without [DONE]"),
        ([chunk("a"), "data: [DONE]"], Outcome.MISSING_USAGE, "stream carried no usage object"),
        ([chunk("a"), "data: {oops", chunk(usage=USAGE), "data: [DONE]"], Outcome.MALFORMED,
         "chunk is not JSON: '{oops'"),
        ([chunk("a"), "data: [1, 2]"], Outcome.MALFORMED, "chunk is not a JSON object: '[1, 2]'"),
        (['data: {"object": "x"}'], Outcome.MALFORMED, "chunk has no 'choices' list"),
        (['data: {"choices": [{"delta": {"content": 5}}]}'], Outcome.MALFORMED,
         "chunk choice has an unexpected shape"),
        ([chunk("a"), 'data: {"error": {"message": "engine died", "code": 500}}'], Outcome.HTTP_ERROR,
         "error event: engine died"),
        ([chunk(usage={"prompt_tokens": 1, "completion_tokens": "7"})], Outcome.MALFORMED,
         "usage.completion_tokens is not a non-negative integer: '7'"),
        ([chunk(usage=USAGE), "data: [DONE]"], Outcome.NO_CONTENT, "stream carried no text"),
        (["HTTP/1.1 200 OK"], Outcome.MALFORMED, "not a server-sent-event line: 'HTTP/1.1 200 OK'"),
        ([], Outcome.TRUNCATED, "stream ended without [DONE]"),
    ],
)
def test_every_failure_kind_is_named(lines, outcome, error):
    parsed = feed(lines)
    assert (parsed.outcome, parsed.error) == (outcome, error)


def test_a_decided_failure_ignores_later_lines():
    parser = StreamParser("chat")
    parser.feed_line("data: {bad", 0.0)
    parser.feed_line("", 0.0)
    assert parser.finished and not parser.done
    parser.feed_line(chunk("late"), 1.0)
    parser.feed_line("", 1.0)
    assert parser.end(2.0).content_times == []


def test_an_unknown_endpoint_is_refused():
    with pytest.raises(ValueError, match=r"^endpoint must be 'chat' or 'completions', got 'embeddings'$"):
        StreamParser("embeddings")


def test_non_streamed_bodies():
    ok = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}}], "usage": USAGE})
    parsed = parse_body("chat", 200, ok.encode())
    assert (parsed.outcome, parsed.prompt_tokens, parsed.output_tokens) == (Outcome.OK, 12, 7)
    no_usage = json.dumps({"choices": [{"index": 0, "message": {"content": "Hi"}}]})
    assert parse_body("chat", 200, no_usage.encode()).outcome is Outcome.MISSING_USAGE
    empty = json.dumps({"choices": [{"index": 0, "message": {"content": ""}}], "usage": USAGE})
    assert parse_body("chat", 200, empty.encode()).outcome is Outcome.NO_CONTENT
    assert parse_body("chat", 200, b"<html>").error == "body is not JSON: b'<html>'"
    error = parse_body("chat", 503, b'{"error": {"message": "overloaded"}}')
    assert (error.outcome, error.error) == (Outcome.HTTP_ERROR, 'HTTP 503: {"error": {"message": "overloaded"}}')


def events(*lines: str) -> bytes:
    return b"".join(line.encode() + b"\n\n" for line in lines)


def test_bulk_feed_stamps_every_event_of_a_read_with_that_read():
    parser = StreamParser("chat")
    body = events(chunk("Hel"), chunk("lo")) + events(chunk(" there"), chunk(usage=USAGE), "data: [DONE]")
    parser.feed(body[:-40], 1.0)  # the read ends inside an event
    parser.feed(body[-40:], 2.0)
    parsed = parser.end(2.5)
    assert (parsed.outcome, parsed.content_times, parsed.output_tokens) == (Outcome.OK, [1.0, 1.0, 1.0], 7)
    assert parser.done_at == 2.0 and parser.content_chars == len("Hello there")


@pytest.mark.parametrize("cut", [1, 7, 30, 61, 100])
def test_bulk_feed_agrees_with_the_line_path_wherever_reads_split(cut):
    body = (b": keep-alive\r\n\r\n" + events(chunk("a")).replace(b"\n", b"\r\n") + events(chunk("b"))
            + b'data: {"choices": [{"index": 0,\ndata: "delta": {"content": "c"}}]}\n\n'
            + events(chunk(usage=USAGE), "data: [DONE]"))
    parser = StreamParser("chat")
    parser.feed(body[:cut], 1.0)
    parser.feed(body[cut:], 2.0)
    parsed = parser.end(3.0)
    assert parsed.outcome is Outcome.OK and len(parsed.content_times) == 3 and parsed.output_tokens == 7


def test_bulk_feed_names_failures_like_the_line_path():
    parser = StreamParser("chat")
    parser.feed(events(chunk("a"), "data: {oops", chunk("b")), 1.0)
    parsed = parser.end(2.0)
    assert (parsed.outcome, parsed.error, parsed.content_times) == (Outcome.MALFORMED, "chunk is not JSON: '{oops'",
                                                                    [1.0])
    parser = StreamParser("chat")
    parser.feed(b"data: \xff\xfe\r\n\r\n", 1.0)
    assert parser.end(2.0).outcome is Outcome.MALFORMED


def test_a_last_event_without_its_blank_line_still_counts_but_a_partial_line_does_not():
    parser = StreamParser("chat")
    parser.feed(events(chunk("a"), chunk(usage=USAGE)) + b"data: [DONE]\n", 1.0)
    assert parser.end(2.0).outcome is Outcome.OK
    parser = StreamParser("chat")
    parser.feed(events(chunk("a"), chunk(usage=USAGE)) + b"data: [DO", 1.0)
    assert parser.end(2.0).outcome is Outcome.TRUNCATED


ODD_CHUNKS = [  # every shape the typed fast path must either count exactly as the json path does, or refuse
    '{"choices": [{"index": 0, "delta": {"content": "hi"}}], "usage": null}',
    '{"choices": [{"index": 0, "delta": {"role": "assistant"}}]}',
    '{"choices": [{"index": 0, "delta": null}]}',
    '{"choices": [{"index": 0}]}',
    '{"choices": []}',
    '{"choices": [{"delta": {"content": "a"}}, {"delta": {"content": "bc"}}]}',
    '{"choices": [{"delta": {"content": "a", "reasoning_content": null}}]}',
    '{"choices": [{"delta": {"content": "a", "reasoning_content": "think"}}]}',
    '{"choices": [{"delta": {"reasoning": "hmm"}}]}',
    '{"choices": [{"delta": {"content": null}}]}',
    '{"choices": [{"delta": {"content": 5}}]}',
    '{"choices": [{"delta": "text"}]}',
    '{"choices": ["x"]}',
    '{"choices": {"0": {"delta": {"content": "a"}}}}',
    '{"choices": [{"delta": {"content": "a"}}], "usage": {"prompt_tokens": 1, "completion_tokens": 2}}',
    '{"choices": [{"delta": {"content": "a"}}], "error": null}',
    '{"error": {"message": "boom"}}',
    '{"choices": [{"delta": {"content": "a"}}], "choices": [{"delta": {"content": "bcd"}}]}',
    '{"choices": [{"delta": {"content": "a", "content": "xyz"}}]}',
    '{"choices": [{"delta": {"content": "\\ud83d\\ude00 \\u00e9"}}]}',
    '{"choices": [{"delta": {"content": "a"}}], "n": NaN}',
    '{"choices": [{"delta": {"content": "a"}}]} trailing',
    '[{"choices": []}]',
    '"just a string"',
]


ODD_TEXT_CHUNKS = [
    '{"choices": [{"index": 0, "text": "hi", "logprobs": null}], "usage": null}',
    '{"choices": [{"index": 0}]}',
    '{"choices": [{"text": ""}]}',
    '{"choices": [{"text": "a"}, {"text": "bc"}]}',
    '{"choices": [{"text": null}]}',
    '{"choices": [{"text": ["a"]}]}',
    '{"choices": [{"text": "a", "text": "xyz"}]}',
    '{"choices": [{"text": "a"}], "usage": {"prompt_tokens": 1, "completion_tokens": 2}}',
    '{"choices": [{"text": "a"}], "error": "x"}',
]


@pytest.mark.parametrize(("endpoint", "body"), [("chat", b) for b in ODD_CHUNKS]
                         + [("completions", b) for b in ODD_CHUNKS + ODD_TEXT_CHUNKS])
def test_the_typed_fast_path_agrees_with_the_json_path(endpoint, body):
    """Bulk reads decode content chunks with typed msgspec structs; lines go through json only."""
    tail = [chunk(usage=USAGE), "data: [DONE]"]
    fast = StreamParser(endpoint)
    for at, event in enumerate(["data: " + body] + tail):
        fast.feed(event.encode() + b"\n\n", float(at))  # one event per read: the reader's usual case
    slow = feed(["data: " + body] + tail, endpoint)
    got = fast.end(float(len(tail) + 1))
    assert (got.outcome, got.error, got.content_times, got.content_chars) == (
        slow.outcome, slow.error, slow.content_times, slow.content_chars)
