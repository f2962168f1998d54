"""Real system tools the tests drive (promtool, prometheus, haproxy, chromium).

`scripts/test.sh` installs them through `scripts/system-deps.sh`; a test that needs one
that is still missing fails with one line naming the package, never skips silently.
"""

from __future__ import annotations

import shutil
import socket

import pytest

PACKAGES = {"promtool": "prometheus", "prometheus": "prometheus", "alertmanager": "prometheus-alertmanager",
            "amtool": "prometheus-alertmanager", "haproxy": "haproxy", "chromium": "chromium"}


def require_tool(name: str) -> str:
    """Path of a system tool, or a one-line test failure saying which package provides it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `bash scripts/system-deps.sh` as root "
                    f"(Debian package {PACKAGES.get(name, name)!r})", pytrace=False)
    return path


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (tests never use fixed ports: several may run at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
