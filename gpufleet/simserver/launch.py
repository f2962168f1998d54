"""Start the vLLM simulator in a subprocess, for load tests and their tests.

The server runs in its own process so it never competes with the load
generator for the GIL, and its CPU use can be measured on its own. Stable API
(the Locust harness and ``gpufleet loadtest --local`` rely on it)::

    from gpufleet.simserver.launch import LocalServer

    with LocalServer(itl_ms=25, ttft_ms=200, seed=7) as server:
        server.url      # "http://127.0.0.1:PORT" (no trailing slash)
        server.model    # served model name, for the "model" request field
        server.profile  # profile name
        server.pid      # process id of the server

``LocalServer(**options)`` takes exactly the options of
``python -m gpufleet.simserver`` in snake_case (see
:class:`gpufleet.simserver.options.SimOptions`): ``host``, ``port``,
``profile``, ``model``, ``seed``, ``jitter``, ``max_num_seqs``, ``ttft_ms``,
``itl_ms``, ``tokens_per_chunk``, ``error_rate``, ``stall_rate``,
``stall_ms``, ``disconnect_rate``, ``malformed_rate``,
``default_max_tokens``, ``max_model_len``, ``kv_capacity_tokens``,
``truth_size``. Two keyword-only extras control the launcher itself:
``startup_timeout_s`` (default 20) and ``stop_timeout_s`` (default 5).

``start()`` waits for the server's single JSON line on stdout and raises
``RuntimeError`` (with the server's stderr) if it exits first, or
``TimeoutError`` if the line does not come in time. ``set_faults(**switches)``
changes faults and fixed latencies of the running server (``PUT /sim/faults``)
and returns its new ``/sim/config``; a refused switch raises ``ValueError``. ``stop()`` sends
SIGTERM, waits ``stop_timeout_s`` and then kills; it is idempotent (a stopped
or never-started server is left alone). Unknown option names raise
``TypeError`` and invalid values ``ValueError``, before any process starts.
"""

from __future__ import annotations

import dataclasses
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from types import TracebackType
from typing import IO, Any

from gpufleet.simserver.options import SimOptions, options_to_argv, validate

__all__ = ["LocalServer"]

_STDERR_TAIL = 4000


class LocalServer:
    """The simulator as a child process, usable as a context manager."""

    def __init__(
        self,
        *,
        startup_timeout_s: float = 20.0,
        stop_timeout_s: float = 5.0,
        **options: Any,
    ) -> None:
        known = {f.name for f in dataclasses.fields(SimOptions)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(
                f"unknown simulator option(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        self.options = SimOptions(**options)
        validate(self.options)
        self.startup_timeout_s = startup_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._url: str | None = None
        self._model: str | None = None
        self._profile: str | None = None

    # -- properties ------------------------------------------------------
    @property
    def url(self) -> str:
        return self._require(self._url)

    @property
    def model(self) -> str:
        return self._require(self._model)

    @property
    def profile(self) -> str:
        return self._require(self._profile)

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the simulator is not running; call start() first")
        return self.process.pid

    @staticmethod
    def _require(value: str | None) -> str:
        if value is None:
            raise RuntimeError("the simulator is not running; call start() first")
        return value

    def argv(self) -> list[str]:
        """The command line used to start the server."""
        return [sys.executable, "-m", "gpufleet.simserver", *options_to_argv(self.options)]

    # -- lifecycle -------------------------------------------------------
    def start(self) -> LocalServer:
        if self.process is not None:
            raise RuntimeError("this LocalServer is already started")
        self._stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            self.argv(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        try:
            line = self._read_ready_line()
            info = json.loads(line)
            self._url, self._model, self._profile = info["url"], info["model"], info["profile"]
        except BaseException:
            self.stop()
            raise
        return self

    def _read_ready_line(self) -> str:
        assert self.process is not None and self.process.stdout is not None
        stdout = self.process.stdout
        deadline = time.monotonic() + self.startup_timeout_s
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while b"\n" not in buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"the simulator did not report its URL within {self.startup_timeout_s} s; "
                        f"stderr: {self.stderr_tail()!r}"
                    )
                if not selector.select(remaining):
                    continue
                data = os.read(stdout.fileno(), 65536)
                if not data:
                    code = self.process.wait()
                    raise RuntimeError(
                        f"the simulator exited with code {code} before it was ready; "
                        f"stderr: {self.stderr_tail()!r}"
                    )
                buffer += data
        return buffer.split(b"\n", 1)[0].decode()

    def stderr_tail(self) -> str:
        """The last part of the server's stderr (for error messages)."""
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0, os.SEEK_END)
        size = self._stderr.tell()
        self._stderr.seek(max(0, size - _STDERR_TAIL))
        return self._stderr.read().decode(errors="replace")

    def stop(self) -> None:
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        self.process = None
        self._url = self._model = self._profile = None

    def set_faults(self, **switches: float) -> dict[str, Any]:
        """Change faults/latencies for new requests (e.g. ``ttft_ms=650, error_rate=0.3``)."""
        import urllib.error
        import urllib.request

        request = urllib.request.Request(
            f"{self.url}/sim/faults", data=json.dumps(switches).encode(), method="PUT",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            message = json.loads(exc.read() or b"{}").get("error", {}).get("message", str(exc))
            raise ValueError(message) from None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"url={self._url!r}" if self._url else "stopped"
        return f"LocalServer({state}, options={options_to_argv(self.options)})"
