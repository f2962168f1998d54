"""One promotion per stack at a time: an exclusive OS file lock (flock) per stack.

The lock file also holds who took it, so a second promotion is refused with
a message that names the holder. The kernel drops the lock when the holder's
process ends, however it ends, so a crash never leaves a stale lock behind.
It protects promotions started on one machine (or sharing the lock
directory); across machines Pulumi's own update lock still refuses a second
concurrent `up` (ConcurrentUpdateError), which the promotion treats as a
failed step.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from types import TracebackType
from typing import Any


class LockHeld(RuntimeError):
    """Another promotion of the stack holds the lock; str() names it."""

    def __init__(self, stack: str, path: Path, holder: dict[str, Any] | None) -> None:
        self.stack = stack
        self.path = path
        self.holder = holder or {}
        if holder:
            who = (f"{holder.get('who', 'unknown')} (pid {holder.get('pid', '?')}, promoting to "
                   f"{holder.get('candidate', '?')} since {holder.get('since', '?')}, promotion {holder.get('promotion', '?')})")
        else:
            who = "another process (it has not written its name yet)"
        super().__init__(f"stack '{stack}' is already being promoted by {who}; lock file {path}")


class PromotionLock:
    """`with PromotionLock(dir, stack, holder):` holds `<dir>/<stack>.lock` exclusively or raises LockHeld."""

    def __init__(self, directory: Path, stack: str, holder: dict[str, Any]) -> None:
        self.path = directory / f"{stack}.lock"
        self.stack = stack
        self.holder = holder
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise LockHeld(self.stack, self.path, holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({**self.holder, "pid": os.getpid()}).encode(), 0)
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)  # no stale name for the next reader
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> "PromotionLock":
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def _read_holder(fd: int) -> dict[str, Any] | None:
    try:
        data = os.pread(fd, 64 * 1024, 0)
        holder = json.loads(data) if data.strip() else None
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None
