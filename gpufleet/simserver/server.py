"""HTTP front end of the simulator (aiohttp): vLLM's OpenAI routes plus /sim/*.

Routes: ``GET /v1/models``, ``POST /v1/chat/completions``,
``POST /v1/completions``, ``GET /health``, ``GET /metrics``,
``GET|DELETE /sim/requests`` (ground truth), ``GET /sim/config`` and
``PUT /sim/faults`` (runtime switches, see :mod:`switches`).
Handlers only validate, plan faults and hand the request to the
:class:`~gpufleet.simserver.engine.Engine`, which does all the timing.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import socket
import time
import uuid
from typing import Any

from aiohttp import web

from gpufleet.simserver.engine import INJECTED_DISCONNECT, OK, Engine, Job
from gpufleet.simserver.faults import plan_faults
from gpufleet.simserver.metrics import CONTENT_TYPE, VllmMetrics
from gpufleet.simserver.model import Scheduler, Sequence
from gpufleet.simserver.options import SimConfig
from gpufleet.simserver.switches import SwitchError, switched_config
from gpufleet.simserver.protocol import (
    CHAT,
    COMPLETIONS,
    ApiError,
    StreamFormatter,
    completion_body,
    dumps,
    models_body,
    parse_request,
)
from gpufleet.simserver.truth import TruthLog, TruthRecord
from gpufleet.tokens import OUTPUT_VOCAB, tokenize

__all__ = ["SimServer", "bind_socket", "serve"]

_INJECTED_ERRORS = {
    500: ("InternalServerError", "Internal server error (injected by the simulator)."),
    503: ("ServiceUnavailableError", "Service unavailable (injected by the simulator)."),
}


def request_rng(seed: int, seq_no: int) -> random.Random:
    """The RNG of request ``seq_no``: independent of every other request."""
    return random.Random(f"gpufleet-sim:{seed}:{seq_no}")


def fixed_tokens(text: str, n: int) -> list[str]:
    """The first ``n`` tokens of ``text`` repeated (``--output-text``: deterministic answers)."""
    pieces = tokenize(text)
    return [pieces[i % len(pieces)] for i in range(n)]


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(body=dumps(body).encode(), status=status, content_type="application/json")


class SimServer:
    """The aiohttp application and the state behind it."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.created = int(time.time())
        self.scheduler = Scheduler(
            config.timing,
            max_num_seqs=config.max_num_seqs,
            kv_capacity_tokens=config.kv_capacity_tokens,
            jitter=config.jitter,
        )
        self.metrics = VllmMetrics(
            config.model,
            max_model_len=config.max_model_len,
            running=lambda: len(self.scheduler.running),
            waiting=lambda: len(self.scheduler.waiting),
            kv_cache_usage=lambda: self.scheduler.kv_cache_usage,
        )
        self.engine = Engine(self.scheduler, self.metrics, tokens_per_chunk=config.tokens_per_chunk)
        self.truth = TruthLog(config.truth_size)
        self._seq = itertools.count()
        self.app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[self._count_http])
        self.app.add_routes(
            [
                web.get("/v1/models", self.models),
                web.post("/v1/chat/completions", self.chat),
                web.post("/v1/completions", self.completions),
                web.get("/health", self.health),
                web.get("/metrics", self.prometheus),
                web.get("/sim/requests", self.truth_get),
                web.delete("/sim/requests", self.truth_clear),
                web.get("/sim/config", self.sim_config),
                web.put("/sim/faults", self.sim_faults),
            ]
        )
        self.app.on_startup.append(self._start_engine)
        self.app.on_cleanup.append(self._stop_engine)

    async def _start_engine(self, _app: web.Application) -> None:
        self.engine.start()

    async def _stop_engine(self, _app: web.Application) -> None:
        await self.engine.close()

    @web.middleware
    async def _count_http(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """http_requests_total by route, method and status class, when the response is done."""
        route = request.match_info.route.resource
        path = route.canonical if route is not None else "none"
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            self.metrics.http.observe(path, request.method, exc.status)
            raise
        except asyncio.CancelledError:
            raise
        except Exception:
            self.metrics.http.observe(path, request.method, 500)
            raise
        self.metrics.http.observe(path, request.method, response.status)
        return response

    # -- plain routes ----------------------------------------------------
    async def models(self, _request: web.Request) -> web.Response:
        return _json(models_body(self.config.model, self.created, self.config.max_model_len))

    async def health(self, _request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def prometheus(self, _request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.render().encode(), headers={"Content-Type": CONTENT_TYPE})

    async def truth_get(self, request: web.Request) -> web.Response:
        """Ground truth; ``?id=X`` selects one request, ``?since_seq=N`` those with seq >= N."""
        records = self.truth.records()
        wanted = request.query.get("id")
        if wanted is not None:
            records = [r for r in records if r.id == wanted]
        since = request.query.get("since_seq")
        if since is not None:
            try:
                first = int(since)
            except ValueError:
                return _json(ApiError(400, "'since_seq' must be an integer.", param="since_seq").body(), 400)
            records = [r for r in records if r.seq >= first]
        return _json({"requests": [r.as_dict() for r in records]})

    async def truth_clear(self, _request: web.Request) -> web.Response:
        return _json({"cleared": self.truth.clear()})

    async def sim_config(self, _request: web.Request) -> web.Response:
        return _json(self.config.describe())

    async def sim_faults(self, request: web.Request) -> web.Response:
        """Change faults / fixed latencies for new requests; answers the new configuration."""
        try:
            body = await request.json(loads=json.loads)
        except ValueError:
            return _json(ApiError(400, "Request body is not valid JSON.").body(), 400)
        try:
            config = switched_config(self.config, body)
        except SwitchError as exc:
            return _json(ApiError(400, str(exc)).body(), 400)
        self.config = config
        self.scheduler.timing = config.timing
        return _json(config.describe())

    # -- completions -----------------------------------------------------
    async def chat(self, request: web.Request) -> web.StreamResponse:
        return await self._complete(request, CHAT)

    async def completions(self, request: web.Request) -> web.StreamResponse:
        return await self._complete(request, COMPLETIONS)

    async def _complete(self, request: web.Request, endpoint: str) -> web.StreamResponse:
        received = time.time()
        arrived = self.engine.now()
        config = self.config
        seq_no = next(self._seq)
        header_id = request.headers.get("x-request-id")
        record = TruthRecord(header_id or f"sim-{seq_no}", seq_no, endpoint, received)
        self.truth.add(record)
        echo = {"x-request-id": record.id}
        try:
            try:
                body = await request.json(loads=json.loads)
            except ValueError:
                raise ApiError(400, "Request body is not valid JSON.") from None
            parsed = parse_request(
                endpoint,
                body,
                served_model=config.model,
                default_max_tokens=config.default_max_tokens,
                max_model_len=config.max_model_len,
            )
        except ApiError as exc:
            return self._reject(record, exc.status, exc.body(), "rejected", echo)

        record.stream = parsed.stream
        record.prompt_tokens = parsed.prompt_tokens
        record.max_tokens = parsed.max_tokens
        rng = request_rng(config.seed, seq_no)
        per_chunk = config.tokens_per_chunk if parsed.stream else parsed.max_tokens
        plan = plan_faults(rng, config.faults, parsed.max_tokens, per_chunk)
        record.faults = plan.describe()
        if plan.error_status is not None:
            err_type, message = _INJECTED_ERRORS[plan.error_status]
            body = ApiError(plan.error_status, message, err_type).body()
            return self._reject(record, plan.error_status, body, "injected_error", echo)

        tokens = rng.choices(OUTPUT_VOCAB, k=parsed.max_tokens)
        if config.output_text is not None:  # drawn anyway, so timing draws stay where they were
            tokens = fixed_tokens(config.output_text, parsed.max_tokens)
        prefix = "chatcmpl-" if endpoint == CHAT else "cmpl-"
        response_id = prefix + (header_id or uuid.uuid4().hex)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[str] = loop.create_future()
        seq = Sequence(seq_no, parsed.prompt_tokens, parsed.max_tokens, rng, arrived)
        job = Job(seq=seq, record=record, plan=plan, tokens=tokens, done=done)
        seq.payload = job

        if parsed.stream:
            resp = web.StreamResponse(
                headers={"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache", **echo}
            )
            await resp.prepare(request)
            record.headers_sent_at = time.time()
            record.status = 200
            job.stream = True
            job.include_usage = parsed.include_usage
            job.formatter = StreamFormatter(endpoint, response_id, int(received), config.model)
            job.resp = resp
            job.transport = request.transport
            return await self._run_stream(job, resp)
        return await self._run_plain(request, job, endpoint, response_id, int(received), echo)

    def _reject(
        self, record: TruthRecord, status: int, body: dict[str, object], outcome: str, headers: dict[str, str]
    ) -> web.Response:
        record.status = status
        record.outcome = outcome
        record.finished_at = time.time()
        response = _json(body, status)
        response.headers.update(headers)
        return response

    async def _wait(self, job: Job) -> str:
        self.engine.submit(job)
        try:
            return await job.done
        except asyncio.CancelledError:
            self.engine.abandon(job)
            job.record.outcome = "client_disconnect"
            raise

    async def _run_stream(self, job: Job, resp: web.StreamResponse) -> web.StreamResponse:
        record = job.record
        outcome = await self._wait(job)
        record.outcome = outcome
        if outcome == OK:
            try:
                await resp.write_eof()
            except ConnectionError:
                record.outcome = "client_disconnect"
        record.finished_at = time.time()
        return resp

    async def _run_plain(
        self,
        request: web.Request,
        job: Job,
        endpoint: str,
        response_id: str,
        created: int,
        echo: dict[str, str],
    ) -> web.StreamResponse:
        record = job.record
        seq = job.seq
        outcome = await self._wait(job)
        resp = web.StreamResponse(headers={"Content-Type": "application/json", **echo})
        if outcome != OK:
            record.outcome = outcome
            record.finished_at = time.time()
            return resp
        if job.plan.disconnect_after_chunk is not None:
            if request.transport is not None:
                request.transport.close()
            record.outcome = INJECTED_DISCONNECT
            record.finished_at = time.time()
            return resp
        body = completion_body(
            endpoint, response_id, created, self.config.model, job.text, seq.prompt_tokens, seq.max_tokens
        )
        data = dumps(body).encode()
        if job.plan.malformed_after_chunk is not None:
            data = data[: len(data) // 2]
        resp.content_length = len(data)
        try:
            await resp.prepare(request)
            started = record.headers_sent_at = time.time()
            await resp.write(data)
            await resp.write_eof()
        except ConnectionError:
            record.outcome = "client_disconnect"
            record.finished_at = time.time()
            return resp
        now = time.time()
        record.status = 200
        record.wrote(now, seq.max_tokens, started)
        record.outcome = OK
        record.finished_at = now
        return resp


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0 = any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


async def serve(config: SimConfig) -> tuple[web.AppRunner, str]:
    """Start the server; returns the runner (to clean up) and the base URL."""
    server = SimServer(config)
    runner = web.AppRunner(server.app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    sock = bind_socket(config.host, config.port)
    site = web.SockSite(runner, sock)
    await site.start()
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return runner, f"http://{shown}:{port}"
