"""Launch the Locust scenario as a subprocess and collect its raw run.

Locust runs headless in its own process (and with `--processes N` as one
master plus N forked workers), so the load generator never shares a GIL
with this process or the simulator. The scenario's master writes the raw
run to a file and prints `GPUFLEET_PROGRESS` JSON lines, which feed the
live progress display. Every way this can go wrong raises `HarnessError`,
which the gate turns into an `invalid` verdict.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gpufleet.core.assets import loadtests_dir as project_loadtests_dir
from gpufleet.core.assets import packaged_dir
from gpufleet.loadtest.rawrun import DRAIN_MARGIN_S, RawRun, read_run

# The installed scenarios; a run uses the project's own loadtests/ when it has one (gpufleet.core.assets).
LOADTESTS_DIR = packaged_dir("loadtests")
PROGRESS_PREFIX = "GPUFLEET_PROGRESS "
# Workloads with a locustfile of their own; any other workload runs through chat.py.
LOCUSTFILES = {
    "short_chat": "chat.py",
    "long_context": "long_context.py",
    "chinese_chat": "chinese_chat.py",
    "mixed": "mixed.py",
}
SAFETY_MARGIN_S = 20.0  # Locust's own --run-time limit beyond the expected end
API_KEY_ENV = "GPUFLEET_API_KEY"


class HarnessError(RuntimeError):
    """The load generator failed to produce a run; the message says how."""


@dataclass(frozen=True)
class LoadPlan:
    """Everything a Locust run needs; exactly one of users / rate."""

    target: str
    workload: str
    duration_s: float
    warmup_s: float
    users: int | None = None
    rate: float | None = None
    model: str = ""
    processes: int = 1
    max_in_flight: int = 256
    seed: int = 0
    timeout_s: float = 120.0
    stall_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if (self.users is None) == (self.rate is None):
            raise ValueError("a load plan needs exactly one of users (closed loop) or rate (open loop)")
        if self.processes < 1:
            raise ValueError(f"processes must be at least 1, got {self.processes}")

    @property
    def effective_processes(self) -> int:
        """No more processes than closed-loop users (a process without users has nothing to do)."""
        return min(self.processes, self.users) if self.users is not None else self.processes

    @property
    def expected_end_s(self) -> float:
        return self.warmup_s + self.duration_s + self.timeout_s + DRAIN_MARGIN_S


def workload_names(loadtests_dir: Path = LOADTESTS_DIR) -> list[str]:
    path = loadtests_dir / "workloads.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return sorted(data["workloads"])
    except (OSError, KeyError, TypeError, yaml.YAMLError) as exc:
        raise HarnessError(f"cannot read the workload list {path}: {exc}") from exc


def check_workload(workload: str, loadtests_dir: Path = LOADTESTS_DIR) -> None:
    """ValueError (a usage error, before any traffic) for a workload loadtests/workloads.yaml does not define."""
    names = workload_names(loadtests_dir)
    if workload not in names:
        raise ValueError(f"unknown workload {workload!r} (allowed: {', '.join(names)})")


def workload_kind(workload: str, loadtests_dir: Path = LOADTESTS_DIR) -> tuple[str, bool] | None:
    """(endpoint, streamed) of a workload (a mix: of its first entry); None if it is not defined."""
    path = loadtests_dir / "workloads.yaml"
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8"))["workloads"]
        spec = entries[workload]
        if "mix" in spec:
            spec = entries[next(iter(spec["mix"]))]
        return str(spec.get("endpoint", "chat")), bool(spec.get("stream", True))
    except (OSError, KeyError, TypeError, StopIteration, yaml.YAMLError):
        return None


def locustfile_for(workload: str, loadtests_dir: Path = LOADTESTS_DIR) -> Path:
    return loadtests_dir / LOCUSTFILES.get(workload, "chat.py")


def locust_args(plan: LoadPlan, *, out_path: Path | str, run_id: str, loadtests_dir: Path | str = LOADTESTS_DIR,
                master_of: int | None = None) -> list[str]:
    """Locust's arguments (after `python -m locust`) for a plan; pure, so tested without Locust.

    By default the run is local: one process, or a master forking
    `plan.processes` workers (`--processes`). With `master_of=N` it is a
    master waiting for N workers started elsewhere (the in-cluster Job).
    """
    processes = master_of if master_of is not None else plan.effective_processes
    if plan.users is not None:
        users, open_args = plan.users, []
    else:
        users = processes  # one dispatcher per process shares the rate
        per_process_cap = max(1, math.ceil(plan.max_in_flight / processes))
        open_args = ["--gpufleet-rate", repr(float(plan.rate)), "--gpufleet-dispatchers", str(processes),
                     "--gpufleet-max-in-flight", str(per_process_cap)]
    run_time = math.ceil(plan.expected_end_s + SAFETY_MARGIN_S)
    args = [
        "-f", str(Path(loadtests_dir) / locustfile_for(plan.workload, Path(loadtests_dir)).name),
        "--headless", "--host", plan.target,
        "-u", str(users), "-r", str(users),
        "--run-time", f"{run_time}s",
        "--exit-code-on-error", "0", "--only-summary", "--loglevel", "WARNING",
        "--gpufleet-workload", plan.workload,
        "--gpufleet-warmup", repr(float(plan.warmup_s)),
        "--gpufleet-duration", repr(float(plan.duration_s)),
        "--gpufleet-seed", str(plan.seed),
        "--gpufleet-timeout", repr(float(plan.timeout_s)),
        "--gpufleet-stall-timeout", repr(float(plan.stall_timeout_s)),
        "--gpufleet-run-id", run_id,
        "--gpufleet-out", str(out_path),
        "--gpufleet-autoquit", "--gpufleet-progress",
        *open_args,
    ]
    if plan.model:
        args += ["--gpufleet-model", plan.model]
    if master_of is not None:
        args += ["--master", "--expect-workers", str(master_of), "--expect-workers-max-wait", "600"]
    elif processes > 1:
        args += ["--processes", str(processes), "--expect-workers-max-wait", "60"]
    return args


def locust_argv(plan: LoadPlan, *, out_path: Path, run_id: str, loadtests_dir: Path = LOADTESTS_DIR) -> list[str]:
    """The full local command line (this interpreter's Locust)."""
    return [sys.executable, "-m", "locust", *locust_args(plan, out_path=out_path, run_id=run_id,
                                                         loadtests_dir=loadtests_dir)]


def parse_progress(line: str) -> dict[str, Any] | None:
    """The JSON of a progress line, or None for any other line."""
    if not line.startswith(PROGRESS_PREFIX):
        return None
    try:
        value = json.loads(line[len(PROGRESS_PREFIX):])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _pump_stdout(stream, on_progress: Callable[[dict[str, Any]], None] | None, tail: deque[str]) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip("\n")
        progress = parse_progress(line)
        if progress is None:
            tail.append(line)
        elif on_progress is not None:
            on_progress(progress)


def run_locust(plan: LoadPlan, *, on_progress: Callable[[dict[str, Any]], None] | None = None,
               api_key: str | None = None, loadtests_dir: Path | None = None) -> RawRun:
    """Run the plan to completion and return the raw run; HarnessError if none was produced."""
    loadtests_dir = loadtests_dir or project_loadtests_dir()
    if plan.workload not in workload_names(loadtests_dir):
        raise HarnessError(f"unknown workload {plan.workload!r}; known: {', '.join(workload_names(loadtests_dir))}")
    with tempfile.TemporaryDirectory(prefix="gpufleet-loadtest-") as tmp:
        workdir = Path(tmp)
        out_path = workdir / "run.json"
        run_id = uuid.uuid4().hex[:12]
        argv = locust_argv(plan, out_path=out_path, run_id=run_id, loadtests_dir=loadtests_dir)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        if api_key:
            env[API_KEY_ENV] = api_key
        stderr_path = workdir / "locust.log"
        tail: deque[str] = deque(maxlen=40)
        with open(stderr_path, "wb") as stderr:
            process = subprocess.Popen(argv, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=stderr, start_new_session=True)
            pump = threading.Thread(target=_pump_stdout, args=(process.stdout, on_progress, tail), daemon=True)
            pump.start()
            limit = plan.expected_end_s + SAFETY_MARGIN_S + 30.0
            try:
                code = process.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # our own child's process group
                process.wait()
                raise HarnessError(f"locust did not finish within {limit:.0f} s and was killed") from None
            except BaseException:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait()
                raise
            finally:
                pump.join(timeout=5)
        if not out_path.exists():
            log_tail = stderr_path.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise HarnessError(f"locust exited with code {code} without writing results; log tail:\n{log_tail}")
        try:
            return read_run(out_path)
        except (OSError, ValueError) as exc:
            raise HarnessError(f"locust wrote unreadable results: {exc}") from exc
