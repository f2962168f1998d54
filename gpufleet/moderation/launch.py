"""Start the proxy and the Green stand-in as child processes (tests, demo, the local load-test gate).

Each prints one JSON line when it listens; `Child` waits for it, keeps stdout
(the proxy's decision log) in a file, and stops with SIGTERM, then SIGKILL.

    with LocalStandin(block={"forbidden": "political_content"}) as green, \\
         LocalProxy(upstream=sim.url, provider="aliyun-green", endpoint=green.url) as proxy:
        proxy.url
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from gpufleet.moderation.settings import ProxySettings, settings_to_argv
from gpufleet.processes import stop_process

# The SDK signs with whatever the default credential chain finds; a local stand-in
# checks only that a signature is there. Never real keys, never from config.
STANDIN_CREDENTIALS = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIstandin0000local",
                       "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "standin-secret-not-a-credential"}


class Child:
    def __init__(self, argv: list[str], env: Mapping[str, str] | None = None, startup_timeout_s: float = 20) -> None:
        self.argv = argv
        self.env = {**os.environ, **(env or {})}
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}
        self._out = tempfile.NamedTemporaryFile(prefix="gpufleet-moderation-", suffix=".log", delete=False)
        self._err = tempfile.TemporaryFile()

    def start(self) -> Child:
        self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err,
                                        env=self.env)
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            with open(self._out.name, "rb") as f:
                first = f.readline()
            if first.endswith(b"\n"):
                self.info = json.loads(first)
                return self
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"{self.argv[2]} exited with code {self.process.returncode}: {self.stderr()!r}")
            time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"{self.argv[2]} did not start within {self.startup_timeout_s} s: {self.stderr()!r}")

    def stderr(self) -> str:
        self._err.seek(0)
        return self._err.read().decode(errors="replace")[-4000:]

    def stdout_lines(self) -> list[str]:
        """Everything printed after the ready line (the proxy's decision log)."""
        with open(self._out.name, encoding="utf-8") as f:
            return f.read().splitlines()[1:]

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> None:
        stop_process(self.process, 5)

    def __enter__(self) -> Child:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
        os.unlink(self._out.name)


class LocalProxy(Child):
    """`python -m gpufleet.moderation` with ProxySettings given as keywords."""

    def __init__(self, *, env: Mapping[str, str] | None = None, **settings: Any) -> None:
        self.settings = ProxySettings(**settings).validate()
        local_green = self.settings.provider == "aliyun-green" and str(self.settings.endpoint).startswith("http://127.")
        super().__init__([sys.executable, "-m", "gpufleet.moderation", *settings_to_argv(self.settings)],
                         {**(STANDIN_CREDENTIALS if local_green else {}), **(env or {})})

    @property
    def url(self) -> str:
        return str(self.info["url"])

    @property
    def metrics_url(self) -> str:
        return str(self.info["metricsUrl"])


class LocalStandin(Child):
    """The Green API stand-in with its blocked words."""

    def __init__(self, block: Mapping[str, str] | None = None) -> None:
        argv = [sys.executable, "-m", "gpufleet.moderation.standin"]
        for word, label in (block or {}).items():
            argv += ["--block", f"{word}={label}"]
        super().__init__(argv)

    @property
    def url(self) -> str:
        return str(self.info["url"])
