"""Local child processes (HAProxy, Prometheus, Locust, simulators) handled the same way everywhere.

Stopping is SIGTERM, a grace period, then SIGKILL (to the child's whole
process group where it leads one). A `WorkdirProcess` also owns a private
temporary directory holding its configuration and log, removed when it stops.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the caller retries if it is taken)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(process: subprocess.Popen | None, grace_s: float, *, group: bool = False) -> None:
    """Terminate `process` if it still runs; kill it when it outlives `grace_s`. Idempotent.

    `group`: signal the process group the child leads (`start_new_session=True`), so that its own
    children (e.g. Locust's workers) stop with it."""
    if process is None or process.poll() is not None:
        return
    _signal(process, signal.SIGTERM, group)
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        _signal(process, signal.SIGKILL, group)
        process.wait()


def _signal(process: subprocess.Popen, sig: signal.Signals, group: bool) -> None:
    if group:
        os.killpg(process.pid, sig)
    else:
        process.send_signal(sig)


class WorkdirProcess:
    """A child process with a private directory; subclasses write `start()` with `_workdir` and `_spawn`."""

    LOG = "child.log"  # the child's stdout and stderr, in its directory
    GRACE_S = 5.0
    GROUP = False  # the child leads its own process group, and stopping signals the whole group

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None

    def start(self) -> Any:
        raise NotImplementedError

    def _workdir(self, prefix: str) -> Path:
        self._dir = Path(tempfile.mkdtemp(prefix=prefix))
        return self._dir

    def _spawn(self, argv: list[str], **popen: Any) -> subprocess.Popen[bytes]:
        """Start the child with stdout and stderr in its log (stdin closed); with `GROUP`, in a session of
        its own, so that stopping the group never reaches this process."""
        assert self._dir is not None
        if self.GROUP:
            popen["start_new_session"] = True
        with open(self._dir / self.LOG, "wb") as log:
            self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            **popen)
        return self.process

    def log_tail(self, chars: int = 1500) -> str:
        if self._dir is None or not (self._dir / self.LOG).exists():
            return ""
        return (self._dir / self.LOG).read_text(errors="replace")[-chars:]

    def _terminate(self) -> None:
        stop_process(self.process, self.GRACE_S, group=self.GROUP)
        self.process = None

    def stop(self) -> None:
        self._terminate()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
