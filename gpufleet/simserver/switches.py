"""Runtime switches: change a running simulator's faults and latencies (`POST /sim/faults`).

A promotion rehearsal must break the candidate *mid-promotion*, at the step
where the fault is meant to start, without restarting it (a restart would
reset its counters and drop connections, which is a different fault). The
body is a JSON object with any of the fault options and the two fixed-latency
options, in the CLI's snake_case::

    {"error_rate": 0.3}                      # an error burst
    {"ttft_ms": 400}                         # a TTFT regression
    {"stall_rate": 1.0, "stall_ms": 3000}    # every stream stalls 3 s
    {"itl_ms": 20}

Requests that arrive afterwards use the new values (requests already running
keep theirs). The answer is the effective configuration, like `GET /sim/config`.
Unknown names or invalid values get vLLM-style 400 errors and change nothing.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from aiohttp import web

from gpufleet.simserver.faults import FaultConfig
from gpufleet.simserver.protocol import ApiError, dumps

FAULT_FIELDS = ("error_rate", "stall_rate", "stall_ms", "disconnect_rate", "malformed_rate")
TIMING_FIELDS = ("ttft_ms", "itl_ms")
SWITCHES = FAULT_FIELDS + TIMING_FIELDS


def parse_switches(body: Any) -> dict[str, float]:
    """The requested changes; ApiError(400) for anything but a JSON object of known numeric switches."""
    if not isinstance(body, dict) or not body:
        raise ApiError(400, f"Expected a JSON object with any of: {', '.join(SWITCHES)}.")
    changes: dict[str, float] = {}
    for name, value in body.items():
        if name not in SWITCHES:
            raise ApiError(400, f"Unknown switch {name!r}; allowed: {', '.join(SWITCHES)}.", param=name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ApiError(400, f"{name!r} must be a number >= 0, got {value!r}.", param=name)
        changes[name] = float(value)
    return changes


def apply_switches(server: Any, changes: dict[str, float]) -> None:
    """Swap the server's config (faults) and the scheduler's timing; ApiError(400) if a value is invalid."""
    config = server.config
    faults = {f: changes.get(f, getattr(config.faults, f)) for f in FAULT_FIELDS}
    try:
        new_faults = FaultConfig(**faults)
    except ValueError as exc:
        raise ApiError(400, f"{exc}.") from None
    timing = config.timing.overridden(
        ttft_s=changes["ttft_ms"] / 1000.0 if "ttft_ms" in changes else None,
        itl_s=changes["itl_ms"] / 1000.0 if "itl_ms" in changes else None,
    )
    server.config = dataclasses.replace(config, faults=new_faults, timing=timing)
    server.scheduler.timing = timing


def handler(server: Any):
    """The aiohttp handler for `POST /sim/faults`, bound to one SimServer."""

    async def sim_faults(request: web.Request) -> web.Response:
        try:
            try:
                body = await request.json(loads=json.loads)
            except ValueError:
                raise ApiError(400, "Request body is not valid JSON.") from None
            apply_switches(server, parse_switches(body))
        except ApiError as exc:
            return web.Response(body=dumps(exc.body()).encode(), status=exc.status, content_type="application/json")
        return web.Response(body=dumps(server.config.describe()).encode(), content_type="application/json")

    return sim_faults
