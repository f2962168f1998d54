"""The promotion's audit trail: one JSON object per line, appended and synced as it happens.

Every decision (plan, each check with its verdict and metrics, each weight
change before/after, rollbacks, the outcome) becomes one line with who
(user@host), when (UTC, ISO 8601) and which promotion, so an SRE can attach
the file, or the lines of one promotion id, to a change ticket. Lines are
written with O_APPEND, so concurrent writers never interleave inside a line.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def who() -> str:
    """user@host of the operator; falls back to the uid when there is no login name."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_promotion_id() -> str:
    return uuid.uuid4().hex[:12]


class AuditLog:
    """Appends events for one promotion to a JSON-lines file."""

    def __init__(
        self,
        path: Path,
        *,
        stack: str,
        candidate: str,
        actor: str | None = None,
        promotion_id: str | None = None,
        clock: Callable[[], str] = utc_now,
    ) -> None:
        self.path = path
        self.stack = stack
        self.candidate = candidate
        self.actor = actor or who()
        self.promotion_id = promotion_id or new_promotion_id()
        self.clock = clock

    def record(self, event: str, **fields: Any) -> dict[str, Any]:
        entry = {
            "ts": self.clock(),
            "promotion": self.promotion_id,
            "stack": self.stack,
            "candidate": self.candidate,
            "who": self.actor,
            "event": event,
            **fields,
        }
        line = (json.dumps(entry, sort_keys=False, default=str) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        return entry


def read_audit(path: Path, promotion_id: str | None = None) -> list[dict[str, Any]]:
    """The events in a log file, optionally of one promotion."""
    events = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [e for e in events if promotion_id is None or e.get("promotion") == promotion_id]
