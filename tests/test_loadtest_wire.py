"""The streaming hot path's pieces: request writes, the response whose body goes straight to the
SSE parser, and the parser fed the bytearrays llhttp hands out.

The whole client is tested over real sockets in test_loadtest_client.py; these tests pin the parts
that exist only to save CPU, so that a faster path can never mean a different answer.
"""

from __future__ import annotations

import json
import socket

import gevent
import gevent.socket

from common.sse import StreamParser
from common.wire import Connection, Exchange

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def event(obj: object) -> bytes:
    return chunk(f"data: {obj if isinstance(obj, str) else json.dumps(obj)}\n\n".encode())


def text(word: str) -> bytes:
    return event({"choices": [{"index": 0, "text": word}]})


USAGE = event({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}})
BODY = text("Hel") + text("lo") + USAGE + event("[DONE]") + b"0\r\n\r\n"


class Ticket:
    last = 0.0
    stall_s = 30.0


def test_a_request_larger_than_the_socket_buffer_arrives_whole_and_in_order():
    left, right = gevent.socket.socketpair()  # gevent keeps the descriptors non-blocking
    payload = bytes(range(256)) * (8 * 4096)  # 8 MiB: far more than one write takes
    received = bytearray()

    def drain() -> None:
        while len(received) < len(payload):
            data = right.recv(65536)
            if not data:
                return
            received.extend(data)
            gevent.sleep(0)  # a slow reader: the writer must wait for room

    reader = gevent.spawn(drain)
    Connection(left).send(payload)
    reader.join(timeout=10)
    assert bytes(received) == payload
    left.close()
    right.close()


def test_a_write_to_a_closed_peer_raises_an_os_error():
    left, right = socket.socketpair()
    right.close()
    try:
        Connection(left).send(b"POST / HTTP/1.1\r\n\r\n")
    except OSError:
        pass
    else:
        raise AssertionError("writing to a closed peer must raise")
    finally:
        left.close()


def test_once_streaming_no_body_byte_is_buffered_in_the_response():
    exchange = Exchange(-1, StreamParser("completions"), Ticket(), 1.0)
    assert not exchange.on_data(HEAD + text("a")[:9], 1.0)  # headers and part of the first event
    assert exchange.streaming and bytes(exchange.http._body_buffer) == b""
    assert not exchange.on_data(text("a")[9:] + text("b"), 2.0)
    assert bytes(exchange.http._body_buffer) == b"" and exchange.sse.content_times == [2.0, 2.0]


def test_an_exchange_times_every_chunk_by_its_read_however_the_bytes_are_split():
    """Headers and a body split at every possible byte give the same outcome and stamps."""
    whole = HEAD + BODY
    for cut in range(1, len(whole)):
        exchange = Exchange(-1, StreamParser("completions"), Ticket(), 1.0)
        done = exchange.on_data(whole[:cut], 1.0) or exchange.on_data(whole[cut:], 2.0)
        assert done and exchange.keep_alive, cut
        parsed = exchange.sse.end(exchange.end_at)
        assert (parsed.outcome.value, parsed.prompt_tokens, parsed.output_tokens) == ("ok", 3, 2), cut
        first_text_ends = len(HEAD) + len(text("Hel")) - 2  # an event is whole at its blank line,
        second_text_ends = first_text_ends + len(text("lo"))  # before the chunk's closing CRLF
        expected = [1.0 if cut >= first_text_ends else 2.0, 1.0 if cut >= second_text_ends else 2.0]
        assert parsed.content_times == expected, cut


def test_the_parser_takes_bytearrays_as_it_takes_bytes():
    stream = b"data: " + json.dumps({"choices": [{"index": 0, "text": "x\u00e9"}]}).encode() + b"\n\n" \
        + b"data: {not json\n\n"
    as_bytes, as_bytearray = StreamParser("completions"), StreamParser("completions")
    as_bytes.feed(stream, 1.0)
    as_bytearray.feed(bytearray(stream), 1.0)
    one, two = as_bytes.end(2.0), as_bytearray.end(2.0)
    assert (one.outcome, one.error, one.content_times, one.content_chars) == \
        (two.outcome, two.error, two.content_times, two.content_chars)
    assert two.error == "chunk is not JSON: '{not json'"

