"""A throw-away local Prometheus (the Debian `prometheus` binary) for rehearsals and tests.

`LocalPrometheus(targets)` writes a config that scrapes the given targets,
starts Prometheus on 127.0.0.1 at a free port with its data in a temporary
directory, waits until `/-/ready` answers, and on exit stops it and removes
the data. Generic on purpose: a target is a job name, an address and the
labels every series scraped from it gets.

    with LocalPrometheus([ScrapeTarget("blue", "127.0.0.1:8001", {"namespace": "llm-blue"})]) as prom:
        prom.url   # "http://127.0.0.1:PORT"

The constructor and `ScrapeTarget` have the same shape as the observability
work's `gpufleet.observability.localprom` (issue 10), so the two can become
one module by changing an import.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import yaml


@dataclass(frozen=True)
class ScrapeTarget:
    job: str
    address: str  # host:port
    labels: Mapping[str, str] = field(default_factory=dict)
    metrics_path: str = "/metrics"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prometheus_config(targets: Sequence[ScrapeTarget], scrape_interval_s: float) -> dict:
    interval = f"{round(scrape_interval_s * 1000)}ms"  # Prometheus durations take no fractions
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": [
            {"job_name": t.job, "metrics_path": t.metrics_path, "scrape_timeout": interval,
             "static_configs": [{"targets": [t.address], "labels": dict(t.labels)}]}
            for t in targets
        ],
    }


class LocalPrometheus:
    """A real Prometheus as a child process; a context manager."""

    def __init__(self, targets: Sequence[ScrapeTarget], rules_text: None = None, *, scrape_interval_s: float = 1.0,
                 binary: str = "prometheus", startup_timeout_s: float = 30.0) -> None:
        if rules_text is not None:
            raise ValueError("this launcher runs no rules; use gpufleet.observability.localprom for rule tests")
        self.targets = list(targets)
        self.scrape_interval_s = scrape_interval_s
        self.binary = binary
        self.startup_timeout_s = startup_timeout_s
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None

    def start(self) -> LocalPrometheus:
        path = shutil.which(self.binary)
        if path is None:
            raise RuntimeError(f"{self.binary} is not installed (Debian package 'prometheus'; "
                               "run `bash scripts/system-deps.sh` as root)")
        self._dir = Path(tempfile.mkdtemp(prefix="gpufleet-prometheus-"))
        config = self._dir / "prometheus.yml"
        config.write_text(yaml.safe_dump(prometheus_config(self.targets, self.scrape_interval_s)), encoding="utf-8")
        for _ in range(3):  # a free port can be taken between the probe and the bind: try again
            port = _free_port()
            self.url = f"http://127.0.0.1:{port}"
            log = open(self._dir / "prometheus.log", "wb")
            self.process = subprocess.Popen(
                [path, f"--config.file={config}", f"--storage.tsdb.path={self._dir / 'data'}",
                 f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1d",
                 "--log.level=warn"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
            log.close()
            if self._wait_ready():
                return self
            self._terminate()
        tail = (self._dir / "prometheus.log").read_text(errors="replace")[-1500:]
        self.stop()
        raise RuntimeError(f"prometheus did not become ready within {self.startup_timeout_s:g} s: {tail}")

    def _wait_ready(self) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.2)
        return False

    def _terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def stop(self) -> None:
        self._terminate()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> LocalPrometheus:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
