"""The real gate: `gpufleet.loadtest.session.run_gate` behind the promotion's small Gate protocol.

This is the one place that knows how the load test is run. It returns the
load test's own GateResult; bad arguments (an unusable target URL) come back
as an `invalid` verdict, never as an exception or a pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gpufleet.loadtest.gate import GateResult, harness_failure
from gpufleet.core.slo import SloSpec
from gpufleet.loadtest.target import TargetError, is_loopback_host


class LoadTestGate:
    """Runs the stack's SLO load against the candidate's URL and returns the verdict.

    `allow_remote` is True for a real promotion: the target is the stack's own
    gateway, chosen by the program from the stack outputs (run the promotion
    from inside the stack's region; a China stack measured across the border
    would include the border in its latencies).
    """

    def __init__(self, *, allow_remote: bool, on_progress: Callable[[dict[str, Any]], None] | None = None,
                 runner: Callable[..., Any] | None = None) -> None:
        self.allow_remote = allow_remote
        self.on_progress = on_progress
        self._runner = runner
        self.last_report: Any = None

    def check(self, target_url: str, model: str, slo: SloSpec, share: int) -> GateResult:
        runner = self._runner
        if runner is None:
            from gpufleet.loadtest.session import run_gate as runner
        try:
            report = runner(target_url, model or None, slo, allow_remote=self.allow_remote,
                            on_progress=self.on_progress)
        except (TargetError, ValueError) as exc:
            return harness_failure(f"the gate cannot run against {target_url!r}: {exc}")
        self.last_report = report
        return report.gate


def needs_remote(url: str) -> bool:
    from urllib.parse import urlsplit

    return not is_loopback_host(urlsplit(url).hostname or "")
