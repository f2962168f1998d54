"""``python -m gpufleet.simserver``: run the vLLM simulator until SIGTERM/SIGINT.

Once listening it prints exactly one JSON line to stdout,
``{"url": "http://127.0.0.1:PORT", "model": ..., "profile": ...}``, which
:class:`gpufleet.simserver.launch.LocalServer` waits for. Nothing else is
written to stdout; diagnostics go to stderr.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Sequence

from gpufleet.simserver.options import options_from_argv, resolve
from gpufleet.simserver.profiles import load_profiles
from gpufleet.simserver.server import serve


def _profile_table() -> str:
    book = load_profiles()
    lines = []
    for name, p in book.profiles.items():
        t = p.timing
        mark = " (default)" if name == book.default else ""
        lines.append(
            f"{name}{mark}: {p.hardware.gpu_count}x {p.hardware.gpu}, {p.served_model_name} "
            f"{p.hardware.weight_dtype}, TTFT base {t.ttft_base_s * 1e3:.1f} ms "
            f"+ {t.prefill_s_per_token * 1e3:.3f} ms/prompt token, ITL at batch 1 "
            f"{t.step_time(0, 1) * 1e3:.1f} ms, KV cache {p.kv_capacity_tokens} tokens"
        )
    return "\n".join(lines)


async def _run(argv: Sequence[str] | None) -> int:
    options, list_profiles = options_from_argv(argv)
    if list_profiles:
        print(_profile_table())
        return 0
    try:
        config = resolve(options)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    runner, url = await serve(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(json.dumps({"url": url, "model": config.model, "profile": config.profile.name}), flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(_run(argv))


if __name__ == "__main__":
    sys.exit(main())
