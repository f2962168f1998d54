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
import uuid

from gpufleet.loadtest.runner import LoadPlan, locust_argv
from gpufleet.processes import WorkdirProcess


class BackgroundTraffic(WorkdirProcess):
    LOG = "locust.log"
    GRACE_S = 10.0
    GROUP = True  # Locust and any workers it forks

    def __init__(self, url: str, *, model: str, workload: str, rate: float, duration_s: float, seed: int = 1) -> None:
        super().__init__()
        self.plan = LoadPlan(target=url, workload=workload, duration_s=duration_s, warmup_s=0.0, rate=rate,
                             model=model, seed=seed, timeout_s=60.0, stall_timeout_s=30.0)

    def start(self) -> BackgroundTraffic:
        workdir = self._workdir("gpufleet-traffic-")
        argv = locust_argv(self.plan, out_path=workdir / "run.json", run_id=uuid.uuid4().hex[:12])
        self._spawn(argv, cwd=workdir, env=dict(os.environ, PYTHONUNBUFFERED="1"))
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None
