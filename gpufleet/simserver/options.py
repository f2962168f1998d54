"""Simulator options: one dataclass shared by the CLI and :mod:`launch`.

``SimOptions`` mirrors the command line flag for flag (``--itl-ms`` is
``itl_ms``), so ``LocalServer(**options)`` and ``python -m gpufleet.simserver``
can never drift apart: :func:`options_to_argv` turns one into the other.
:func:`resolve` merges the options with the chosen profile into the
:class:`SimConfig` the server runs with.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from gpufleet.simserver.faults import FaultConfig
from gpufleet.simserver.model import Timing
from gpufleet.simserver.profiles import Profile, ProfileBook, load_profiles

__all__ = [
    "SimOptions",
    "SimConfig",
    "build_parser",
    "check_loopback",
    "options_from_argv",
    "options_to_argv",
    "resolve",
]


@dataclass(frozen=True)
class SimOptions:
    """Every knob of the simulator; ``None`` means "take it from the profile"."""

    host: str = "127.0.0.1"
    port: int = 0
    profile: str | None = None
    model: str | None = None
    seed: int = 0
    jitter: float = 0.1
    max_num_seqs: int | None = None
    ttft_ms: float | None = None
    itl_ms: float | None = None
    tokens_per_chunk: int = 1
    error_rate: float = 0.0
    stall_rate: float = 0.0
    stall_ms: float = 1000.0
    disconnect_rate: float = 0.0
    malformed_rate: float = 0.0
    default_max_tokens: int = 128
    max_model_len: int | None = None
    kv_capacity_tokens: int | None = None
    truth_size: int = 10000
    output_text: str | None = None


_HELP = {
    "host": "loopback address to listen on (non-loopback hosts are refused)",
    "port": "TCP port; 0 picks a free one",
    "profile": "timing profile (see --list-profiles); default: the profiles.yaml default",
    "model": "served model name; default: the profile's model id",
    "seed": "seed of the per-request RNGs (jitter, faults, output text)",
    "jitter": "sigma of the log-normal noise on every TTFT and ITL (0 = exact)",
    "max_num_seqs": "maximum concurrently running sequences (vLLM --max-num-seqs)",
    "ttft_ms": "fixed time to first token, replacing the profile's prefill model",
    "itl_ms": "fixed inter-token latency, replacing the profile's decode model",
    "tokens_per_chunk": "tokens per streamed chunk after the first (vLLM --stream-interval)",
    "error_rate": "fraction of requests answered with HTTP 500/503",
    "stall_rate": "fraction of requests that pause mid-stream",
    "stall_ms": "length of an injected pause",
    "disconnect_rate": "fraction of requests whose connection is dropped mid-stream",
    "malformed_rate": "fraction of requests that get a non-JSON data: line mid-stream",
    "default_max_tokens": "output length when the request sets no max_tokens",
    "max_model_len": "context length limit (prompt + max_tokens)",
    "kv_capacity_tokens": "KV-cache capacity in tokens (limits admission)",
    "truth_size": "ground-truth records kept by GET /sim/requests (ring buffer)",
    "output_text": "answer with this text's tokens (repeated to max_tokens) instead of random words",
}


def check_loopback(host: str) -> str:
    """Return the address to bind, or raise if ``host`` is not loopback."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise ValueError(
        f"refusing to listen on non-loopback host {host!r}: the simulator only "
        "binds to loopback addresses (127.0.0.0/8, ::1, localhost)"
    )


def validate(options: SimOptions) -> None:
    """Raise ``ValueError`` with a precise message for any invalid option."""
    check_loopback(options.host)
    if not 0 <= options.port <= 65535:
        raise ValueError(f"port must be between 0 and 65535, got {options.port}")
    if options.jitter < 0:
        raise ValueError(f"jitter must be >= 0, got {options.jitter}")
    for name in ("ttft_ms", "itl_ms"):
        value = getattr(options, name)
        if value is not None and value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    if options.output_text is not None and not options.output_text.strip():
        raise ValueError("output_text must contain at least one token")
    for name in ("tokens_per_chunk", "default_max_tokens", "truth_size", "max_num_seqs",
                 "max_model_len", "kv_capacity_tokens"):
        value = getattr(options, name)
        if value is not None and value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    _faults(options)


def _faults(options: SimOptions) -> FaultConfig:
    return FaultConfig(
        error_rate=options.error_rate,
        stall_rate=options.stall_rate,
        stall_ms=options.stall_ms,
        disconnect_rate=options.disconnect_rate,
        malformed_rate=options.malformed_rate,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gpufleet.simserver",
        description=(
            "vLLM SIMULATOR: an OpenAI-compatible server that fakes an LLM with "
            "a timing model (no model is loaded, output text is random words). "
            "Prints one JSON line {url, model, profile} once listening."
        ),
    )
    for f in fields(SimOptions):
        flag = "--" + f.name.replace("_", "-")
        kind = _field_type(f)
        parser.add_argument(flag, dest=f.name, type=kind, default=f.default, help=_HELP[f.name])
    parser.add_argument("--list-profiles", action="store_true", help="print the profiles and exit")
    return parser


def _field_type(f: dataclasses.Field[Any]) -> type:
    text = str(f.type)
    if "int" in text:
        return int
    if "float" in text:
        return float
    return str


def options_from_argv(argv: Sequence[str] | None = None) -> tuple[SimOptions, bool]:
    """Parse the command line; returns the options and whether to list profiles."""
    parser = build_parser()
    args = parser.parse_args(argv)
    values = {f.name: getattr(args, f.name) for f in fields(SimOptions)}
    options = SimOptions(**values)
    try:
        validate(options)
    except ValueError as exc:
        parser.error(str(exc))
    return options, args.list_profiles


def options_to_argv(options: SimOptions) -> list[str]:
    """The flags that reproduce ``options`` (defaults are left out)."""
    argv: list[str] = []
    for f in fields(SimOptions):
        value = getattr(options, f.name)
        if value != f.default:
            argv += ["--" + f.name.replace("_", "-"), str(value)]
    return argv


@dataclass(frozen=True)
class SimConfig:
    """Options merged with a profile: exactly what the server runs with."""

    host: str
    port: int
    profile: Profile
    model: str
    timing: Timing
    max_num_seqs: int
    max_model_len: int
    kv_capacity_tokens: int
    seed: int
    jitter: float
    tokens_per_chunk: int
    default_max_tokens: int
    faults: FaultConfig
    truth_size: int
    output_text: str | None = None

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary, served at ``GET /sim/config``."""
        t = self.timing
        return {
            "simulator": True,
            "model": self.model,
            "profile": self.profile.name,
            "gpu": f"{self.profile.hardware.gpu_count}x {self.profile.hardware.gpu}",
            "timing": {
                "ttft_base_ms": t.ttft_base_s * 1000.0,
                "prefill_ms_per_token": t.prefill_s_per_token * 1000.0,
                "weight_ms": t.weight_s * 1000.0,
                "kv_ms_per_1k_tokens": t.kv_s_per_token * 1e6,
                "compute_ms_per_seq": t.compute_s_per_seq * 1000.0,
                "fixed_itl_ms": None if t.fixed_itl_s is None else t.fixed_itl_s * 1000.0,
            },
            "max_num_seqs": self.max_num_seqs,
            "max_model_len": self.max_model_len,
            "kv_capacity_tokens": self.kv_capacity_tokens,
            "seed": self.seed,
            "jitter": self.jitter,
            "tokens_per_chunk": self.tokens_per_chunk,
            "default_max_tokens": self.default_max_tokens,
            "faults": dataclasses.asdict(self.faults),
            "truth_size": self.truth_size,
            "output_text": self.output_text,
        }


def resolve(options: SimOptions, book: ProfileBook | None = None) -> SimConfig:
    """Validate ``options`` and merge them with their profile."""
    validate(options)
    book = book or load_profiles()
    profile = book.get(options.profile)
    capacity = options.kv_capacity_tokens or profile.kv_capacity_tokens
    max_model_len = options.max_model_len or min(profile.max_model_len, capacity)
    if max_model_len > capacity:
        raise ValueError(
            f"max_model_len {max_model_len} exceeds the KV cache capacity of {capacity} tokens"
        )
    timing = profile.timing.overridden(
        ttft_s=None if options.ttft_ms is None else options.ttft_ms / 1000.0,
        itl_s=None if options.itl_ms is None else options.itl_ms / 1000.0,
    )
    return SimConfig(
        host=check_loopback(options.host),
        port=options.port,
        profile=profile,
        model=options.model or profile.served_model_name,
        timing=timing,
        max_num_seqs=options.max_num_seqs or profile.max_num_seqs,
        max_model_len=max_model_len,
        kv_capacity_tokens=capacity,
        seed=options.seed,
        jitter=options.jitter,
        tokens_per_chunk=options.tokens_per_chunk,
        default_max_tokens=options.default_max_tokens,
        faults=_faults(options),
        truth_size=options.truth_size,
        output_text=options.output_text,
    )
