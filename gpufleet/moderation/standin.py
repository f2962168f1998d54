"""A local stand-in for Alibaba Cloud Content Moderation's `TextModerationPlus` (tests, demo, local gate).

It speaks the RPC shape the official SDK sends (`POST /` signed with
ACS3-HMAC-SHA256 (`x-acs-action`, `x-acs-version`, `Authorization`) or with v1
query parameters, and the form fields `Service`, `ServiceParameters`) and answers the documented response body
(`Code`, `Message`, `RequestId`, `Data.RiskLevel`, `Data.Result[].Label/RiskWords`).
A text containing a configured word is `high` risk with that word's label.
`POST /custom` answers the `custom` provider's contract with the same words.
`POST /standin/config` changes the words, forces an HTTP status (an outage) or
adds a delay; `GET /standin/calls` lists what was screened. Loopback only.

    python -m gpufleet.moderation.standin --block 'forbidden phrase=political_content'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from gpufleet.simserver.options import check_loopback
from gpufleet.simserver.server import bind_socket

SERVICES = ("llm_query_moderation", "llm_response_moderation")


class GreenStandin:
    """State and handlers; `blocked` maps a word to the label it raises."""

    def __init__(self, blocked: Mapping[str, str]) -> None:
        self.blocked = dict(blocked)
        self.status = 200
        self.delay_ms = 0.0
        self.fail_only: str | None = None  # a Service name: fail only that one (e.g. outputs)
        self.calls: list[dict[str, Any]] = []
        self.app = web.Application()
        self.app.add_routes([web.post("/", self.moderate), web.get("/standin/calls", self.get_calls),
                             web.post("/standin/config", self.configure), web.get("/health", self.health),
                             web.post("/custom", self.custom)])

    async def health(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def get_calls(self, _request: web.Request) -> web.Response:
        return web.json_response({"calls": self.calls})

    async def configure(self, request: web.Request) -> web.Response:
        body = await request.json()
        if "blocked" in body:
            self.blocked = dict(body["blocked"])
        self.status = int(body.get("status", self.status))
        self.delay_ms = float(body.get("delayMs", self.delay_ms))
        self.fail_only = body.get("failOnly", self.fail_only)
        return web.json_response({"blocked": self.blocked, "status": self.status, "delayMs": self.delay_ms,
                                  "failOnly": self.fail_only})

    async def custom(self, request: web.Request) -> web.Response:
        """The `custom` provider's contract (providers.CustomProvider), with the same words and faults."""
        if self.delay_ms:
            await asyncio.sleep(self.delay_ms / 1000)
        if self.status != 200:
            return web.json_response({"error": "stand-in told to fail"}, status=self.status)
        body = await request.json()
        text = str(body.get("text", ""))
        hits = [label for word, label in self.blocked.items() if word in text]
        self.calls.append({"service": f"custom:{body.get('direction')}", "content": text, "blocked": bool(hits)})
        return web.json_response({"blocked": bool(hits), "categories": hits, "riskLevel": "high" if hits else "none"})

    async def moderate(self, request: web.Request) -> web.Response:
        params: dict[str, str] = dict(request.query)
        params.update({k: str(v) for k, v in (await request.post()).items()})
        # Signature v3 (the SDK's default) carries action, version and key id in headers.
        params.setdefault("Action", request.headers.get("x-acs-action", ""))
        params.setdefault("Version", request.headers.get("x-acs-version", ""))
        auth = request.headers.get("Authorization", "")
        if auth.startswith("ACS3-HMAC-SHA256 Credential="):
            params.setdefault("AccessKeyId", auth.split("Credential=", 1)[1].split(",", 1)[0])
            params.setdefault("Signature", auth.rpartition("Signature=")[2])
        request_id = str(uuid.uuid4()).upper()
        if self.delay_ms:
            await asyncio.sleep(self.delay_ms / 1000)
        if self.status != 200 and self.fail_only in (None, params.get("Service")):
            return _error(self.status, "ServiceUnavailable", "stand-in told to fail", request_id)
        problem = _check(params)
        if problem:
            return _error(400, "InvalidParameter", problem, request_id)
        content = str(json.loads(params["ServiceParameters"]).get("content", ""))
        hits = [(word, label) for word, label in self.blocked.items() if word in content]
        self.calls.append({"service": params["Service"], "content": content, "blocked": bool(hits)})
        result = [{"Label": label, "Confidence": 99.0, "RiskWords": word, "Description": label}
                  for word, label in hits] or [{"Label": "nonLabel", "Description": "no risk"}]
        return web.json_response({
            "Code": 200, "Message": "OK", "RequestId": request_id,
            "Data": {"RiskLevel": "high" if hits else "none", "Result": result,
                     "DataId": json.loads(params["ServiceParameters"]).get("dataId")},
        })


def _check(params: Mapping[str, str]) -> str | None:
    """What is wrong with an SDK request, as the real API would refuse it."""
    if params.get("Action") != "TextModerationPlus" or params.get("Version") != "2022-03-02":
        return f"unsupported action {params.get('Action')!r} version {params.get('Version')!r}"
    if not params.get("AccessKeyId") or not params.get("Signature"):
        return "request is not signed (no AccessKeyId/Signature): credentials did not reach the SDK"
    if params.get("Service") not in SERVICES:
        return f"Service must be one of {', '.join(SERVICES)}; got {params.get('Service')!r}"
    try:
        json.loads(params.get("ServiceParameters", ""))
    except ValueError:
        return "ServiceParameters is not a JSON string"
    return None


def _error(status: int, code: str, message: str, request_id: str) -> web.Response:
    return web.json_response({"Code": code, "Message": message, "RequestId": request_id}, status=status)


def parse_block(items: Sequence[str]) -> dict[str, str]:
    """`word=label` pairs (label defaults to `political_content`)."""
    out = {}
    for item in items:
        word, _, label = item.partition("=")
        if not word:
            raise ValueError(f"--block needs WORD[=LABEL]; got {item!r}")
        out[word] = label or "political_content"
    return out


async def _run(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gpufleet.moderation.standin", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--block", action="append", default=[], metavar="WORD[=LABEL]")
    args = parser.parse_args(argv)
    try:
        host = check_loopback(args.host)
        standin = GreenStandin(parse_block(args.block))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    runner = web.AppRunner(standin.app, access_log=None, handle_signals=False)
    await runner.setup()
    sock = bind_socket(host, args.port)
    await web.SockSite(runner, sock).start()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    print(json.dumps({"url": f"http://{host}:{sock.getsockname()[1]}"}), flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(_run(argv))


if __name__ == "__main__":
    sys.exit(main())
