"""The streaming relay in process, with a fake upstream and a word-list provider: what is released, when."""

from __future__ import annotations

import asyncio
import io
import json

from gpufleet.moderation.decisions import DecisionLog
from gpufleet.moderation.labels import new_label
from gpufleet.moderation.metrics import ModerationMetrics
from gpufleet.moderation.openai import CHAT
from gpufleet.moderation.providers import ModerationError, Verdict
from gpufleet.moderation.relay import StreamRelay
from gpufleet.moderation.screener import RequestContext, Screener
from gpufleet.moderation.window import OutputWindow


class Words:
    name = "words"

    def __init__(self, blocked: str | None = None, fail: bool = False) -> None:
        self.blocked, self.fail, self.seen = blocked, fail, []

    async def screen(self, text, direction, *, request_id):
        self.seen.append(text)
        if self.fail:
            raise ModerationError("down")
        hit = self.blocked is not None and self.blocked in text
        return Verdict(hit, ("political_content",) if hit else (), "high" if hit else "none")

    async def close(self):
        return None


class Upstream:
    def __init__(self, deltas: list[str], done: bool = True) -> None:
        lines = [b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant",'
                 b'"content":""}}]}\n', b"\n"]
        for d in deltas:
            lines += [b"data: " + json.dumps({"id": "c1", "choices": [{"index": 0, "delta": {"content": d}}]}).encode()
                      + b"\n", b"\n"]
        if done:
            lines += [b"data: [DONE]\n", b"\n"]
        self.content = self._iter(lines)

    @staticmethod
    async def _iter(lines):
        for line in lines:
            yield line


class Sink:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.eof = False

    async def write(self, data: bytes) -> None:
        self.writes.append(data)

    async def write_eof(self) -> None:
        self.eof = True

    def events(self) -> list:
        body = b"".join(self.writes).decode()
        return [e[6:] if e[6:] == "[DONE]" else json.loads(e[6:]) for e in body.split("\n\n") if e.startswith("data: ")]

    def text(self) -> str:
        return "".join((e["choices"][0].get("delta") or {}).get("content") or "" for e in self.events()
                       if isinstance(e, dict) and e.get("choices"))


def relay(provider, deltas, done=True, **window):
    metrics = ModerationMetrics(provider.name)
    screener = Screener(provider, metrics, DecisionLog("s", provider.name, log_raw_text=False, stream=io.StringIO()),
                        timeout_s=1, fail_open=False, max_chars=2000, overlap=8)
    w = OutputWindow(**{"min_chars": 10, "first_chars": 6, "max_chars": 40, "overlap": 8, **window})
    r = StreamRelay(CHAT, screener, RequestContext("r1", None), w, new_label("svc", None), metrics, check_outputs=True)
    sink = Sink()
    outcome = asyncio.run(r.run(Upstream(deltas, done), sink))
    return outcome, sink


DELTAS = ["Hello", " there", ".", " The", " weather", " is", " fine", ".", " Now", " a", " bad", " word", ".", " End", "."]


def test_clean_stream_is_released_window_by_window_and_labelled():
    provider = Words()
    outcome, sink = relay(provider, DELTAS)
    assert outcome == "ok" and sink.eof and sink.text() == "".join(DELTAS)
    assert sink.events()[0]["aigc"]["Label"] == "1" and sink.events()[-1] == "[DONE]"
    assert provider.seen[0] == "Hello there"  # first window: 6 chars reached
    assert provider.seen[1] == "lo there. The weather is fine."  # 8 released chars of overlap, then a sentence


def test_hit_cuts_the_stream_and_drops_the_held_window():
    outcome, sink = relay(Words(blocked="bad"), DELTAS)
    events = sink.events()
    assert outcome == "blocked" and sink.text() == "Hello there. The weather is fine."
    assert events[-3]["choices"][0]["finish_reason"] == "content_filter"
    assert events[-2]["error"]["code"] == "content_filter" and events[-1] == "[DONE]"


def test_phrase_split_across_windows_is_still_caught_by_the_overlap():
    outcome, sink = relay(Words(blocked="fine. Now"), DELTAS)
    assert outcome == "blocked" and "Now" not in sink.text()


def test_provider_failure_withholds_everything_unscreened():
    outcome, sink = relay(Words(fail=True), DELTAS)
    assert outcome == "refused" and sink.text() == ""
    assert sink.events()[-2]["error"]["code"] == "moderation_unavailable"


def test_upstream_without_done_releases_only_screened_text():
    outcome, sink = relay(Words(blocked="End"), DELTAS, done=False)
    assert outcome == "blocked" and "End" not in sink.text()
    outcome, sink = relay(Words(), DELTAS[:4], done=False)
    assert outcome == "upstream_cut" and sink.text() == "Hello there. The" and "[DONE]" not in sink.events()
