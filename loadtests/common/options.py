"""The scenario's own command-line options (shown in the web UI as custom parameters).

Defaults suit a plain `locust -f loadtests/chat.py --host URL` session: a
closed loop with as many users as the UI asks for, no warm-up, no end (stop
from the UI), the model found via /v1/models. `gpufleet loadtest` sets them
all explicitly. Locust forwards these options from the master to workers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


API_KEY_ENV = "GPUFLEET_API_KEY"  # so that a key never has to appear on a command line


def add_arguments(parser: Any) -> None:
    """Register the --gpufleet-* options on Locust's parser (init_command_line_parser)."""
    group = parser  # Locust's own add_argument (not an argument group) knows include_in_web_ui/is_secret
    group.add_argument("--gpufleet-workload", type=str, default="",
                       help="Workload from loadtests/workloads.yaml (default: the locustfile's own)")
    group.add_argument("--gpufleet-model", type=str, default="",
                       help="Model name to request (default: the first one GET /v1/models lists)")
    group.add_argument("--gpufleet-rate", type=float, default=0.0,
                       help="Open loop: Poisson arrivals per second over all users (0: closed loop)")
    group.add_argument("--gpufleet-dispatchers", type=int, default=0,
                       help="Open loop: number of users sharing --gpufleet-rate (0: the local user count)")
    group.add_argument("--gpufleet-max-in-flight", type=int, default=256,
                       help="Open loop: cap on concurrent requests per user")
    group.add_argument("--gpufleet-warmup", type=float, default=0.0,
                       help="Seconds at the start that statistics ignore")
    group.add_argument("--gpufleet-duration", type=float, default=0.0,
                       help="Seconds measured after warm-up; then users stop sending (0: run until stopped)")
    group.add_argument("--gpufleet-seed", type=int, default=0, help="Seed of prompt lengths, texts and arrivals")
    group.add_argument("--gpufleet-timeout", type=float, default=120.0,
                       help="Seconds a whole request may take before it counts as a timeout")
    group.add_argument("--gpufleet-stall-timeout", type=float, default=30.0,
                       help="Seconds without any bytes before a request counts as a timeout")
    group.add_argument("--gpufleet-api-key", type=str, default=os.environ.get(API_KEY_ENV, ""), is_secret=True,
                       help=f"Bearer token for the endpoint, if it needs one (default: ${API_KEY_ENV})")
    group.add_argument("--gpufleet-run-id", type=str, default="", include_in_web_ui=False,
                       help="Prefix of x-request-id headers (default: random)")
    group.add_argument("--gpufleet-out", type=str, default="", include_in_web_ui=False,
                       help="Master: write the raw run (records and client health) to this JSON file")
    group.add_argument("--gpufleet-autoquit", action="store_true", default=False, include_in_web_ui=False,
                       help="Master: quit as soon as every process has finished its schedule")
    group.add_argument("--gpufleet-progress", action="store_true", default=False, include_in_web_ui=False,
                       help="Master: print a GPUFLEET_PROGRESS JSON line every second")


@dataclass(frozen=True)
class RunOptions:
    workload: str = ""
    model: str = ""
    rate: float = 0.0
    dispatchers: int = 0
    max_in_flight: int = 256
    warmup_s: float = 0.0
    duration_s: float = 0.0
    seed: int = 0
    timeout_s: float = 120.0
    stall_timeout_s: float = 30.0
    api_key: str = ""
    run_id: str = ""
    out: str = ""
    autoquit: bool = False
    progress: bool = False

    @property
    def open_loop(self) -> bool:
        return self.rate > 0

    @property
    def bounded(self) -> bool:
        """Whether the run ends by itself (a measured duration was given)."""
        return self.duration_s > 0

    @classmethod
    def from_parsed(cls, parsed: Any) -> RunOptions:
        """Read options from Locust's parsed options (None when Locust runs as a library)."""
        def get(name: str, default: Any) -> Any:
            value = getattr(parsed, f"gpufleet_{name}", default) if parsed is not None else default
            return default if value is None else value

        options = cls(
            workload=str(get("workload", "")),
            model=str(get("model", "")),
            rate=float(get("rate", 0.0)),
            dispatchers=int(get("dispatchers", 0)),
            max_in_flight=int(get("max_in_flight", 256)),
            warmup_s=float(get("warmup", 0.0)),
            duration_s=float(get("duration", 0.0)),
            seed=int(get("seed", 0)),
            timeout_s=float(get("timeout", 120.0)),
            stall_timeout_s=float(get("stall_timeout", 30.0)),
            api_key=str(get("api_key", "")),
            run_id=str(get("run_id", "")),
            out=str(get("out", "")),
            autoquit=bool(get("autoquit", False)),
            progress=bool(get("progress", False)),
        )
        options.validate()
        return options

    def validate(self) -> None:
        problems = []
        if self.rate < 0:
            problems.append(f"--gpufleet-rate must be >= 0, got {self.rate}")
        if self.max_in_flight < 1:
            problems.append(f"--gpufleet-max-in-flight must be >= 1, got {self.max_in_flight}")
        if self.warmup_s < 0 or self.duration_s < 0:
            problems.append("--gpufleet-warmup and --gpufleet-duration must be >= 0")
        if self.timeout_s <= 0 or self.stall_timeout_s <= 0:
            problems.append("--gpufleet-timeout and --gpufleet-stall-timeout must be > 0")
        if problems:
            raise ValueError("; ".join(problems))
