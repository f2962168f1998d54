"""Live progress of a load test, on a terminal and in a pipe or a CI log alike.

On a terminal a Rich status line is redrawn every second. When the output is
not a terminal (a pipe, `kubectl logs`, CI) Rich draws nothing, so a plain
line is printed instead, at most every `every_s` seconds and always on a
phase change: phase, elapsed time, requests, errors and the live p95 TTFT.
`gpufleet loadtest` and `gpufleet promote` (one printer per gate) share it.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console

PLAIN_EVERY_S = 10.0


def progress_text(progress: dict[str, Any], total_s: float | None = None) -> str:
    """One line from a GPUFLEET_PROGRESS dict (missing keys shown as '-')."""
    elapsed = float(progress.get("elapsed_s") or 0.0)
    of = f"/{total_s:.0f}" if total_s else ""
    p95 = progress.get("ttft_p95_ms")
    ttft = f"{p95:.0f} ms" if isinstance(p95, (int, float)) else "-"
    return (f"{progress.get('phase', '?'):<7} {elapsed:6.1f}{of} s  requests {progress.get('records', 0)}  "
            f"errors {progress.get('failed', 0)}  p95 TTFT {ttft}  processes done "
            f"{progress.get('processes_done', 0)}/{progress.get('processes', 0)}")


class ProgressPrinter:
    """Context manager whose `update(progress)` feeds `on_progress` of `run_gate`."""

    def __init__(self, console: Console, total_s: float | None = None, *, label: str = "loadtest",
                 every_s: float = PLAIN_EVERY_S, clock=time.monotonic) -> None:
        self.console = console
        self.total_s = total_s
        self.label = label
        self.every_s = every_s
        self.clock = clock
        self.status = None
        self._last_at: float | None = None
        self._last_phase: str | None = None

    @property
    def plain(self) -> bool:
        return not self.console.is_terminal

    def __enter__(self) -> ProgressPrinter:
        if self.plain:
            self._line(f"{self.label}: starting the load generator")
        else:
            self.status = self.console.status(f"{self.label}: starting the load generator...")
            self.status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.__exit__(None, None, None)
            self.status = None

    def update(self, progress: dict[str, Any]) -> None:
        text = f"{self.label}: {progress_text(progress, self.total_s)}"
        if self.status is not None:
            self.status.update(text)
            return
        now, phase = self.clock(), progress.get("phase")
        if self._last_at is None or now - self._last_at >= self.every_s or phase != self._last_phase:
            self._last_at, self._last_phase = now, phase
            self._line(text)

    def _line(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)
        self.console.file.flush()


def throttled(emit, *, label: str = "gate", every_s: float = PLAIN_EVERY_S, clock=time.monotonic):
    """An `on_progress` callback that hands `emit` a plain line every `every_s` seconds and on phase changes
    (for `gpufleet promote`, whose gates run one after another)."""
    last: dict[str, Any] = {"at": None, "phase": None}

    def update(progress: dict[str, Any]) -> None:
        now, phase = clock(), progress.get("phase")
        if last["at"] is None or now - last["at"] >= every_s or phase != last["phase"]:
            last["at"], last["phase"] = now, phase
            emit(f"{label}: {progress_text(progress)}")

    return update
