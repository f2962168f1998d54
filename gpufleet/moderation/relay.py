"""Relay one streamed answer, holding text back until its window is screened.

Upstream SSE events are parsed one by one and held in order. Events that carry
no text (the role chunk, usage, `[DONE]`) go out as soon as nothing unscreened
is held before them; text waits for its window (window.py). A blocked window or
a failed check (fail-closed) ends the stream with a `content_filter` chunk, an
OpenAI-style error event and `[DONE]`; the held text is dropped and the upstream
request is closed, which makes vLLM abort the generation.
"""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
from aiohttp import web

from gpufleet.moderation import openai
from gpufleet.moderation.labels import Label
from gpufleet.moderation.metrics import ModerationMetrics
from gpufleet.moderation.screener import Decision, RequestContext, Screener
from gpufleet.moderation.window import OutputWindow


class StreamRelay:
    def __init__(self, endpoint: str, screener: Screener, ctx: RequestContext, window: OutputWindow, label: Label,
                 metrics: ModerationMetrics, *, check_outputs: bool) -> None:
        self.endpoint = endpoint
        self.screener = screener
        self.ctx = ctx
        self.window = window
        self.label = label
        self.metrics = metrics
        self.check_outputs = check_outputs
        self.held: list[bytes] = []
        self.held_since: float | None = None
        self.template: dict[str, Any] | None = None
        self.labelled = False

    async def run(self, upstream: aiohttp.ClientResponse, resp: web.StreamResponse) -> str:
        """Relay until the end; returns `ok`, `blocked`, `refused` or `upstream_cut`."""
        event: list[bytes] = []
        async for line in upstream.content:
            if line.strip():
                event.append(line)
                continue
            if not event:
                continue
            done = self._take(b"".join(event))
            event = []
            if done:
                return await self._finish(resp)
            if not self.window.held:
                await self._flush(resp)
            elif not self.check_outputs or self.window.due():
                outcome = await self._screen_and_release(resp)
                if outcome != "ok":
                    return outcome
        if event and self._take(b"".join(event)):
            return await self._finish(resp)
        # Upstream ended without [DONE]: release only what passes, then end like the model server did.
        outcome = await self._finish(resp)
        return "upstream_cut" if outcome == "ok" else outcome

    def _take(self, raw: bytes) -> bool:
        """Hold one event; True when it is `[DONE]`."""
        data = b"".join(line[5:].strip() for line in raw.splitlines() if line.startswith(b"data:"))
        if data == b"[DONE]":
            self.held.append(openai.DONE)
            return True
        try:
            chunk = json.loads(data)
        except ValueError:
            return False  # unparseable: its text cannot be screened, so it is never sent
        if not isinstance(chunk, dict):
            return False
        if "error" in chunk:
            self.held.append(openai.sse(chunk))
            return False
        self.template = chunk
        text = openai.delta_text(self.endpoint, chunk)
        if not self.labelled:  # the first chunk carries the implicit label; the others go out byte for byte
            chunk["aigc"] = self.label.metadata()
            self.labelled = True
            self.held.append(openai.sse(chunk))
        else:
            self.held.append(raw if raw.endswith(b"\n\n") else raw.rstrip(b"\n") + b"\n\n")
        if text and self.held_since is None:
            self.held_since = time.perf_counter()
        self.window.add(text)
        if not self.window.held:
            self.held_since = None
        return False

    async def _screen_and_release(self, resp: web.StreamResponse) -> str:
        if self.window.held and self.check_outputs:
            outcome = await self.screener.check(self.window.text_to_screen(), "output", self.ctx)
            if outcome.decision is not Decision.ALLOW:
                reason = "blocked" if outcome.decision is Decision.BLOCK else "unavailable"
                await self._cut(resp, reason)
                return "blocked" if reason == "blocked" else "refused"
        self.window.release()
        await self._flush(resp)
        return "ok"

    async def _flush(self, resp: web.StreamResponse) -> None:
        if self.held_since is not None:
            self.metrics.held_seconds.observe(time.perf_counter() - self.held_since)
            self.held_since = None
        if self.held:
            data, self.held = b"".join(self.held), []
            await resp.write(data)

    async def _finish(self, resp: web.StreamResponse) -> str:
        outcome = await self._screen_and_release(resp)
        if outcome == "ok":
            await resp.write_eof()
        return outcome

    async def _cut(self, resp: web.StreamResponse, reason: str) -> None:
        self.held = []
        self.held_since = None
        await resp.write(openai.sse(openai.stop_chunk(self.endpoint, self.template))
                         + openai.sse(openai.output_stopped(reason)) + openai.DONE)
        await resp.write_eof()
