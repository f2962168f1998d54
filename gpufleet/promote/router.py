"""The rehearsal's weighted router: HAProxy (Debian's `haproxy`) in front of the local release servers.

It plays the HTTPRoute's part: one backend per release with the release's
weight, weighted round robin per request, and weights changed at run time
through HAProxy's admin socket (`set weight <backend>/<server> <w>`, then
read back with `get weight`), so a shift takes effect for the next request
without a reload, as Envoy's does. `RouterStack` puts it behind the promotion's
TrafficStack protocol, so the state machine shifts and rolls back the router
exactly as it would the stack.
"""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from gpufleet.processes import WorkdirProcess, free_port
from gpufleet.promote.machine import ApplyError

BACKEND = "llm"


def haproxy_config(port: int, admin_socket: Path, servers: Mapping[str, str], weights: Mapping[str, int]) -> str:
    """HTTP mode, long timeouts (streamed generations), no retries to another release."""
    lines = [
        "global",
        f"    stats socket {admin_socket} mode 600 level admin",
        "    nbthread 1",
        "    maxconn 4096",
        "defaults",
        "    mode http",
        "    timeout connect 5s",
        "    timeout client 600s",
        "    timeout server 600s",
        "frontend clients",
        f"    bind 127.0.0.1:{port}",
        f"    default_backend {BACKEND}",
        f"backend {BACKEND}",
        "    balance roundrobin",
    ]
    for name, address in sorted(servers.items()):
        lines.append(f"    server {name} {address} weight {int(weights.get(name, 0))}")
    return "\n".join(lines) + "\n"


class LocalRouter(WorkdirProcess):
    """HAProxy as a child process; `url` is where clients send requests."""

    LOG = "haproxy.log"

    def __init__(self, servers: Mapping[str, str], weights: Mapping[str, int], *, binary: str = "haproxy",
                 startup_timeout_s: float = 10.0) -> None:
        super().__init__()
        self.servers = dict(servers)  # release -> host:port
        self.initial = dict(weights)
        self.binary = binary
        self.startup_timeout_s = startup_timeout_s
        self.url = ""

    @property
    def socket_path(self) -> Path:
        assert self._dir is not None
        return self._dir / "admin.sock"

    def start(self) -> LocalRouter:
        path = shutil.which(self.binary)
        if path is None:
            raise RuntimeError(f"{self.binary} is not installed (Debian package 'haproxy'; "
                               "run `bash scripts/system-deps.sh` as root)")
        config = self._workdir("gpufleet-router-") / "haproxy.cfg"
        for _ in range(3):  # the probed port may be taken before HAProxy binds it
            port = free_port()
            config.write_text(haproxy_config(port, self.socket_path, self.servers, self.initial), encoding="utf-8")
            self._spawn([path, "-f", str(config), "-db"], start_new_session=True)
            self.url = f"http://127.0.0.1:{port}"
            if self._wait_ready(port):
                return self
            self._terminate()
        tail = self.log_tail()
        self.stop()
        raise RuntimeError(f"haproxy did not start: {tail}")

    def _wait_ready(self, port: int) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    pass
                self.command("show info")
                return True
            except OSError:
                time.sleep(0.1)
        return False

    def command(self, line: str) -> str:
        """One admin-socket command; HAProxy closes the connection after answering."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(self.socket_path))
            s.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace").strip()

    def weights(self) -> dict[str, int]:
        """The weights HAProxy uses now (`get weight` answers 'current (initial N)')."""
        return {name: int(self.command(f"get weight {BACKEND}/{name}").split()[0]) for name in self.servers}

    def set_weights(self, weights: Mapping[str, int]) -> None:
        """Apply and read back; RuntimeError naming the server when HAProxy refuses or disagrees."""
        for name in sorted(weights):
            if name not in self.servers:
                raise RuntimeError(f"the router has no server {name!r} (servers: {', '.join(sorted(self.servers))})")
            answer = self.command(f"set weight {BACKEND}/{name} {int(weights[name])}")
            if answer:
                raise RuntimeError(f"haproxy refused `set weight {BACKEND}/{name} {weights[name]}`: {answer}")
        now = self.weights()
        wanted = {name: int(w) for name, w in weights.items()}
        if {n: now[n] for n in wanted} != wanted:
            raise RuntimeError(f"haproxy reports weights {now} after setting {wanted}")

class RouterStack:
    """The promotion's TrafficStack for a rehearsal: `apply` sets the router's weights."""

    def __init__(self, router: LocalRouter, on_applied: Callable[[Mapping[str, int]], None] = lambda _w: None) -> None:
        self.router = router
        self.on_applied = on_applied
        self.applied: list[dict[str, int]] = []

    def apply(self, weights: Mapping[str, int], *, message: str) -> None:
        try:
            self.router.set_weights(weights)
        except (OSError, RuntimeError, ValueError) as exc:
            raise ApplyError(f"the local router did not take the weights: {exc}") from None
        self.applied.append(dict(weights))
        self.on_applied(weights)
