"""``python -m gpufleet.moderation --upstream URL ...``: run the proxy until SIGTERM/SIGINT.

Once listening it prints one JSON line to stdout, ``{"url": ..., "metricsUrl": ...}``
(what `LocalProxy` waits for); after that stdout carries only decision lines.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Sequence

from aiohttp import web

from gpufleet.moderation.proxy import ModerationProxy
from gpufleet.moderation.settings import settings_from_argv
from gpufleet.simserver.server import bind_socket


async def _site(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
    await runner.setup()
    sock = bind_socket(host, port)
    await web.SockSite(runner, sock).start()
    shown = f"[{host}]" if ":" in host else host
    return runner, f"http://{shown}:{sock.getsockname()[1]}"


async def _run(argv: Sequence[str] | None) -> int:
    try:
        settings = settings_from_argv(argv)
        proxy = ModerationProxy(settings)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    runners = []
    runner, url = await _site(proxy.app, settings.host, settings.port)
    runners.append(runner)
    metrics_url = url
    if settings.metrics_port is not None:
        metrics_runner, metrics_url = await _site(proxy.metrics_app(), settings.host, settings.metrics_port)
        runners.append(metrics_runner)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    print(json.dumps({"url": url, "metricsUrl": metrics_url}), flush=True)
    try:
        await stop.wait()
    finally:
        for r in runners:
            await r.cleanup()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(_run(argv))


if __name__ == "__main__":
    sys.exit(main())
