"""Which endpoints a load test may hit.

A load test is deliberate overload, so by default it may only target this
machine (loopback addresses and `localhost`). Anything else needs an explicit
`allow_remote=True` (`--allow-remote`), which is meant for the in-region
runner inside a target cluster, never for a laptop pointed at production.
No DNS lookup is made: a name other than `localhost` counts as remote.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


class TargetError(ValueError):
    """A target URL that is malformed or not allowed."""


def is_loopback_host(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_target(url: str, *, allow_remote: bool = False) -> str:
    """The URL without a trailing slash, or TargetError saying why it is refused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetError(f"target must be an http(s) URL like http://127.0.0.1:8000, got {url!r}")
    if parts.query or parts.fragment:
        raise TargetError(f"target must not carry a query or fragment, got {url!r}")
    try:
        parts.port
    except ValueError:
        raise TargetError(f"target has an invalid port: {url!r}") from None
    if not allow_remote and not is_loopback_host(parts.hostname):
        raise TargetError(
            f"refusing to load-test {parts.hostname!r}: only loopback targets (127.0.0.1, ::1, localhost) "
            "are allowed without --allow-remote"
        )
    return url.rstrip("/")
