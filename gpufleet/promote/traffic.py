"""The rehearsal's "users": the stack's Locust workload, open loop, through the weighted router.

Runs the same scenario as the load-test gate (`loadtests/`, launched with
`gpufleet.loadtest.runner.locust_argv`) in the background for the whole
rehearsal, so the traffic that reaches each release follows the router's
weights, as real users' would. Bounded twice: Locust's own `--run-time`
(from the planned duration) and `stop()` (SIGTERM, then SIGKILL, to its own
process group) when the rehearsal ends.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from pathlib import Path
from types import TracebackType

from gpufleet.loadtest.runner import LoadPlan, locust_argv


class BackgroundTraffic:
    def __init__(self, url: str, *, model: str, workload: str, rate: float, duration_s: float, seed: int = 1) -> None:
        self.plan = LoadPlan(target=url, workload=workload, duration_s=duration_s, warmup_s=0.0, rate=rate,
                             model=model, seed=seed, timeout_s=60.0, stall_timeout_s=30.0)
        self.process: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None

    def start(self) -> BackgroundTraffic:
        self._dir = Path(tempfile.mkdtemp(prefix="gpufleet-traffic-"))
        argv = locust_argv(self.plan, out_path=self._dir / "run.json", run_id=uuid.uuid4().hex[:12])
        log = open(self._dir / "locust.log", "wb")
        self.process = subprocess.Popen(argv, cwd=self._dir, env=dict(os.environ, PYTHONUNBUFFERED="1"),
                                        stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self) -> str:
        if self._dir is None or not (self._dir / "locust.log").exists():
            return ""
        return (self._dir / "locust.log").read_text(errors="replace")[-1500:]

    def stop(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # our own child's process group
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.process = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> BackgroundTraffic:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
