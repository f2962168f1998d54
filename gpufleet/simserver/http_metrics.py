"""`http_requests_total`, as vLLM's API server exports it, so canary analysis can count HTTP 5xx.

vLLM instruments its FastAPI app with prometheus-fastapi-instrumentator's
defaults (`vllm/entrypoints/serve/instrumentator/metrics.py`): the counter
`http_requests_total{handler, method, status}` with status codes grouped
("2xx", "4xx", "5xx"), the route template as `handler`, and `/metrics` and
`/health` left out. The engine's own counters never see a request that failed
before it reached the engine, so this is where an error burst shows up. The
simulator's `/sim/*` routes are not vLLM's and are not counted either.

A request is counted when its handler returns, i.e. after the whole streamed
response, with the status it was answered with (as the instrumentator does).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable

from aiohttp import web

EXCLUDED = ("/metrics", "/health", "/load", "/ping", "/version", "/server_info")  # vLLM's excluded_handlers
NAME = "http_requests_total"
HELP = "Total number of requests by method, status and handler."


class HttpMetrics:
    """The counter and the aiohttp middleware that feeds it."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str]] = Counter()

    def observe(self, handler: str, method: str, status: int) -> None:
        if handler in EXCLUDED or handler.startswith("/sim/"):
            return
        self.counts[(handler, method, f"{status // 100}xx")] += 1

    @web.middleware
    async def middleware(self, request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        route = request.match_info.route.resource
        template = route.canonical if route is not None else "none"
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            self.observe(template, request.method, exc.status)
            raise
        except Exception:
            self.observe(template, request.method, 500)
            raise
        self.observe(template, request.method, response.status)
        return response

    def render(self) -> str:
        """Prometheus text (0.0.4) for the counter; empty help/type block when nothing was counted yet."""
        lines = [f"# HELP {NAME} {HELP}", f"# TYPE {NAME} counter"]
        for (handler, method, status), value in sorted(self.counts.items()):
            lines.append(f'{NAME}{{handler="{handler}",method="{method}",status="{status}"}} {float(value)}')
        return "\n".join(lines) + "\n"
