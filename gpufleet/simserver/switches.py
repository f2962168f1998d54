"""Runtime switches: change faults and fixed latencies of a running simulator.

``PUT /sim/faults`` with a JSON object such as ``{"ttft_ms": 650, "error_rate": 0.3}``
changes what *new* requests get, without a restart, so one process (one scrape
target, one set of counters) can serve a healthy phase and then a fault phase,
as the observability end-to-end test and demo do. Keys are the CLI option
names in snake_case; anything else is refused with a 400 naming the key.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from gpufleet.simserver.faults import FaultConfig
from gpufleet.simserver.options import SimConfig

__all__ = ["SWITCHES", "SwitchError", "switched_config"]

_FAULT_KEYS = ("error_rate", "stall_rate", "stall_ms", "disconnect_rate", "malformed_rate")
_TIMING_KEYS = ("ttft_ms", "itl_ms")
SWITCHES = _FAULT_KEYS + _TIMING_KEYS


class SwitchError(ValueError):
    """A switch request the simulator refuses; str() is the one-line reason."""


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SwitchError(f"'{key}' must be a finite number, got {value!r}")
    if value < 0:
        raise SwitchError(f"'{key}' must be >= 0, got {value!r}")
    return float(value)


def switched_config(config: SimConfig, body: Any) -> SimConfig:
    """The configuration after applying ``body``; raises SwitchError for bad input."""
    if not isinstance(body, Mapping) or not body:
        raise SwitchError(f"body must be a non-empty JSON object with keys among: {', '.join(SWITCHES)}")
    unknown = sorted(set(body) - set(SWITCHES))
    if unknown:
        raise SwitchError(f"unknown switch {unknown[0]!r} (allowed: {', '.join(SWITCHES)})")
    values = {key: _number(key, value) for key, value in body.items()}
    faults = {k: values.get(k, getattr(config.faults, k)) for k in _FAULT_KEYS}
    try:
        new_faults = FaultConfig(**faults)
    except ValueError as exc:
        raise SwitchError(str(exc)) from None
    ttft = values.get("ttft_ms")
    itl = values.get("itl_ms")
    timing = config.timing.overridden(
        ttft_s=None if ttft is None else ttft / 1000.0,
        itl_s=None if itl is None else itl / 1000.0,
    )
    return dataclasses.replace(config, faults=new_faults, timing=timing)
