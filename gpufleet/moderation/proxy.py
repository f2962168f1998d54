"""The moderation proxy: an aiohttp app in front of one release's model server.

`POST /v1/chat/completions` and `POST /v1/completions` are screened (prompt
first, then the output, streamed or not) and labelled; `GET /v1/models` is
passed through; `GET /health` answers for the proxy itself. Nothing else is
served, so nothing reaches the model server unscreened. `/metrics` lives on its
own port in the cluster (not reachable through the public route).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import aiohttp
from aiohttp import web

from gpufleet.moderation import openai
from gpufleet.moderation.decisions import DecisionLog, hash_user
from gpufleet.moderation.labels import new_label
from gpufleet.moderation.metrics import CONTENT_TYPE, ModerationMetrics
from gpufleet.moderation.providers import CustomProvider, NoopProvider, Provider
from gpufleet.moderation.relay import StreamRelay
from gpufleet.moderation.screener import Decision, RequestContext, Screener
from gpufleet.moderation.settings import ProxySettings
from gpufleet.moderation.window import OutputWindow

USER_HEADER = "x-gpufleet-user"
_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
        "transfer-encoding", "upgrade", "host", "content-length", "accept-encoding"}


def build_provider(settings: ProxySettings) -> Provider:
    if settings.provider == "aliyun-green":
        from gpufleet.moderation.green import GreenProvider
        return GreenProvider(str(settings.endpoint), timeout_ms=settings.timeout_ms, block_levels=settings.block_levels)
    if settings.provider == "custom":
        return CustomProvider(str(settings.endpoint))
    return NoopProvider()


def _json(body: Any, status: int, headers: dict[str, str]) -> web.Response:
    return web.Response(body=json.dumps(body, ensure_ascii=False).encode(), status=status,
                        content_type="application/json", headers=headers)


class ModerationProxy:
    def __init__(self, settings: ProxySettings, provider: Provider | None = None, log_stream: Any = None) -> None:
        self.settings = settings
        self.provider = provider or build_provider(settings)
        self.metrics = ModerationMetrics(self.provider.name)
        self.log = DecisionLog(settings.stack, self.provider.name, log_raw_text=settings.log_raw_text,
                               stream=log_stream)
        self.screener = Screener(self.provider, self.metrics, self.log, timeout_s=settings.timeout_ms / 1000,
                                 fail_open=settings.fail_open, max_chars=settings.max_check_chars,
                                 overlap=settings.overlap_chars)
        self.upstream = settings.upstream.rstrip("/")
        self.session: aiohttp.ClientSession | None = None
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.add_routes([web.post(openai.CHAT, self.complete), web.post(openai.COMPLETIONS, self.complete),
                             web.get("/v1/models", self.models), web.get("/health", self.health)])
        if settings.metrics_port is None:
            self.app.add_routes([web.get("/metrics", self.prometheus)])
        self.app.on_startup.append(self._start)
        self.app.on_cleanup.append(self._stop)

    def metrics_app(self) -> web.Application:
        app = web.Application()
        app.add_routes([web.get("/metrics", self.prometheus), web.get("/health", self.health)])
        return app

    async def _start(self, _app: web.Application) -> None:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=600)
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout,
                                             auto_decompress=False)

    async def _stop(self, _app: web.Application) -> None:
        if self.session is not None:
            await self.session.close()
        await self.provider.close()

    async def health(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def prometheus(self, _request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    async def models(self, request: web.Request) -> web.StreamResponse:
        assert self.session is not None
        try:
            async with self.session.get(self.upstream + "/v1/models", headers=self._forward_headers(request)) as up:
                return web.Response(body=await up.read(), status=up.status,
                                    content_type=up.content_type or "application/json")
        except aiohttp.ClientError:
            self.metrics.upstream_errors.inc()
            return _json(openai.error_body("The model server is unreachable.", err_type="service_unavailable_error",
                                           code="upstream_unavailable"), 502, {})

    def _forward_headers(self, request: web.Request, request_id: str | None = None) -> dict[str, str]:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        if request_id:
            headers["x-request-id"] = request_id
        return headers

    async def complete(self, request: web.Request) -> web.StreamResponse:
        endpoint = request.path
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        echo = {"x-request-id": request_id}
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            prompt = openai.prompt_text(endpoint, body)
        except ValueError as exc:
            self.metrics.requests.labels(endpoint, "bad_request").inc()
            return _json(openai.error_body(f"Request refused: {exc}.", err_type="invalid_request_error",
                                           code="invalid_request"), 400, echo)
        user = request.headers.get(USER_HEADER) or (body.get("user") if isinstance(body.get("user"), str) else None)
        ctx = RequestContext(request_id, hash_user(user, self.settings.stack))
        if self.settings.check_prompts:
            outcome = await self.screener.check(prompt, "prompt", ctx)
            if outcome.decision is Decision.BLOCK:
                self.metrics.requests.labels(endpoint, "prompt_blocked").inc()
                return _json(openai.prompt_refused(), 400, echo)
            if outcome.decision is Decision.REFUSE:
                self.metrics.requests.labels(endpoint, "refused").inc()
                return _json(openai.moderation_unavailable(), 503, echo)
        return await self._forward(request, endpoint, body, ctx, echo)

    async def _forward(self, request: web.Request, endpoint: str, body: dict[str, Any], ctx: RequestContext,
                       echo: dict[str, str]) -> web.StreamResponse:
        assert self.session is not None
        try:
            upstream = await self.session.post(self.upstream + endpoint, data=json.dumps(body).encode(),
                                               headers=self._forward_headers(request, ctx.request_id))
        except aiohttp.ClientError as exc:
            self.metrics.upstream_errors.inc()
            self.metrics.requests.labels(endpoint, "upstream_error").inc()
            return _json(openai.error_body(f"The model server is unreachable: {type(exc).__name__}.",
                                           err_type="service_unavailable_error", code="upstream_unavailable"),
                         502, echo)
        async with upstream:
            if upstream.status != 200:
                self.metrics.requests.labels(endpoint, f"upstream_{upstream.status}").inc()
                return web.Response(body=await upstream.read(), status=upstream.status,
                                    content_type=upstream.content_type, headers=echo)
            label = new_label(self.settings.service_name, self.settings.explicit_notice)
            headers = {**echo, **label.headers()}
            if upstream.content_type == "text/event-stream":
                return await self._stream(request, upstream, endpoint, ctx, label, headers)
            return await self._plain(upstream, endpoint, ctx, label, headers)

    async def _stream(self, request: web.Request, upstream: aiohttp.ClientResponse, endpoint: str,
                      ctx: RequestContext, label: Any, headers: dict[str, str]) -> web.StreamResponse:
        s = self.settings
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                           "Cache-Control": "no-cache", **headers})
        await resp.prepare(request)
        window = OutputWindow(s.min_window_chars, s.first_window_chars, s.window_chars, s.overlap_chars,
                              s.max_hold_ms / 1000)
        relay = StreamRelay(endpoint, self.screener, ctx, window, label, self.metrics, check_outputs=s.check_outputs)
        try:
            outcome = await relay.run(upstream, resp)
        except aiohttp.ClientPayloadError:
            self.metrics.upstream_errors.inc()
            outcome = "upstream_cut"
        except ConnectionError:  # the client left; leaving the block closes the upstream request too
            outcome = "client_disconnect"
        self.metrics.requests.labels(endpoint, "output_" + outcome if outcome != "ok" else "ok").inc()
        return resp

    async def _plain(self, upstream: aiohttp.ClientResponse, endpoint: str, ctx: RequestContext, label: Any,
                     headers: dict[str, str]) -> web.StreamResponse:
        try:
            answer = json.loads(await upstream.read())
        except (ValueError, aiohttp.ClientPayloadError):
            self.metrics.upstream_errors.inc()
            return _json(openai.error_body("The model server sent an unreadable answer.",
                                           err_type="service_unavailable_error", code="upstream_invalid"), 502,
                         {"x-request-id": ctx.request_id})
        if self.settings.check_outputs:
            outcome = await self.screener.check(openai.output_text(endpoint, answer), "output", ctx)
            if outcome.decision is Decision.REFUSE:
                self.metrics.requests.labels(endpoint, "refused").inc()
                return _json(openai.moderation_unavailable(), 503, {"x-request-id": ctx.request_id})
            if outcome.decision is Decision.BLOCK:
                answer = openai.filtered_body(endpoint, answer)
        answer["aigc"] = label.metadata()
        self.metrics.requests.labels(endpoint, "ok").inc()
        return _json(answer, 200, headers)
