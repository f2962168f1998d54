"""Check the target in a few seconds before any load: is it there, does it serve the model, does it stream?

Without this, a dead target ran the whole window and came back `invalid`
minutes later. Three requests, each with a short timeout: `GET /v1/models`,
the model (if one was named) must be listed, and one tiny streamed request
(max_tokens 2, usage requested) must end in `[DONE]` with a `usage` object.
A 5xx or 429 answer (to either request), a 200 whose body is a JSON error,
an empty stream (only `[DONE]`), or a stream that starts and breaks off,
passes: the server is there and failing, which is what the load test is for
(it then fails the gate rather than refusing to run; issue #16).
Anything else raises `TargetUnavailable` with one line saying what failed;
`gpufleet loadtest` exits 2 with it, `gpufleet promote` records an invalid gate.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any

from gpufleet.loadtest.target import TargetError

TIMEOUT_S = 5.0


class TargetUnavailable(TargetError):
    """The target is not reachable or not an OpenAI-compatible streaming server."""


def _open(url: str, *, body: dict[str, Any] | None, api_key: str | None, timeout: float):
    headers = {"Accept": "text/event-stream" if body else "application/json"}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if body else "GET")
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (http(s) only: checked by check_target)


def _why(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"no answer within {TIMEOUT_S:.0f} s"
    return f"{type(exc).__name__}: {exc}"[:160]


def _failing(exc: BaseException) -> bool:
    """An answer from a server that is up and failing or shedding load (measured, not refused)."""
    return isinstance(exc, urllib.error.HTTPError) and (exc.code >= 500 or exc.code == 429)


def served_models(target: str, *, api_key: str | None = None, timeout: float = TIMEOUT_S) -> list[str] | None:
    """The listed models; None when the server answered the listing with a failure (5xx, 429)."""
    try:
        with _open(f"{target}/v1/models", body=None, api_key=api_key, timeout=timeout) as resp:
            listing = json.loads(resp.read())
        return [str(m["id"]) for m in listing["data"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if _failing(exc):
            return None
        raise TargetUnavailable(f"target {target} is not usable: GET /v1/models failed ({_why(exc)})") from None


def check_stream(target: str, model: str, endpoint: str, *, api_key: str | None = None,
                 timeout: float = TIMEOUT_S) -> None:
    """One tiny streamed request must end in [DONE] with a usage object."""
    body: dict[str, Any] = {"model": model, "max_tokens": 2, "stream": True, "stream_options": {"include_usage": True}}
    if endpoint == "completions":
        path, body["prompt"] = "/v1/completions", "Hello"
    else:
        path, body["messages"] = "/v1/chat/completions", [{"role": "user", "content": "Hello"}]
    usage = done = error_body = False
    events = 0
    try:
        with _open(f"{target}{path}", body=body, api_key=api_key, timeout=timeout) as resp:
            for raw in resp:
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    error_body = error_body or (line.startswith("{") and '"error"' in line)
                    continue
                events += 1
                if line == "data: [DONE]":
                    done = True
                    break
                if '"usage"' in line:
                    try:
                        usage = usage or bool((json.loads(line[5:]) or {}).get("usage"))
                    except (ValueError, AttributeError):
                        pass  # a malformed chunk: the load test measures those
    except urllib.error.HTTPError as exc:
        if exc.code >= 500 or exc.code == 429:
            return  # up and answering, but failing or shedding load: that is what the load test measures
        raise TargetUnavailable(f"target {target} is not usable: a streamed POST {path} failed ({_why(exc)})") \
            from None
    except (OSError, ValueError) as exc:
        if events:
            return  # the stream started and broke off: a failing server, measured by the load test
        raise TargetUnavailable(f"target {target} is not usable: a streamed POST {path} failed ({_why(exc)})") \
            from None
    if not events and error_body:
        return  # a 200 whose body is a JSON error: a failing server, measured by the load test
    if not events:
        raise TargetUnavailable(f"target {target} is not usable: a streamed POST {path} returned no server-sent "
                                "events (not a streaming endpoint)")
    if done and not usage and events == 1:
        return  # an empty stream (only [DONE]): a failing server, measured by the load test
    if done and not usage:
        raise TargetUnavailable(f"target {target} is not usable: a streamed POST {path} ended without a usage "
                                "object (stream_options.include_usage)")
    # events but no [DONE]: the stream was cut off; a failing server, measured by the load test


def preflight(target: str, model: str | None, endpoint: str, *, api_key: str | None = None) -> str | None:
    """Run the checks; returns the model to use (the first listed when none was named)."""
    models = served_models(target, api_key=api_key)
    if models is None:  # the listing itself failed (5xx/429): the load test records and judges it
        return model  # type: ignore[return-value]  (None: the load generator asks /v1/models itself)
    if not models:
        raise TargetUnavailable(f"target {target} is not usable: /v1/models lists no model")
    if model and model not in models:
        raise TargetUnavailable(f"target {target} does not serve model {model!r}; it serves: "
                                f"{', '.join(models[:5])}")
    chosen = model or models[0]
    check_stream(target, chosen, endpoint, api_key=api_key)
    return chosen
