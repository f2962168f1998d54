"""The per-stack lock (also across processes) and the JSON-lines audit log."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gpufleet.promote.audit import AuditLog, read_audit, who
from gpufleet.promote.lock import LockHeld, PromotionLock

HOLDER = {"who": "alice@ops-2", "candidate": "green", "since": "2026-03-01T08:55:00Z", "promotion": "p-0000"}


def test_second_lock_on_the_same_stack_names_the_holder(tmp_path: Path) -> None:
    with PromotionLock(tmp_path, "prod-us-east-1", HOLDER) as held:
        with pytest.raises(LockHeld) as err:
            PromotionLock(tmp_path, "prod-us-east-1", {"who": "bob@ops-3"}).acquire()
        pid = json.loads(held.path.read_text())["pid"]
    assert str(err.value) == (
        f"stack 'prod-us-east-1' is already being promoted by alice@ops-2 (pid {pid}, promoting to green since "
        f"2026-03-01T08:55:00Z, promotion p-0000); lock file {tmp_path / 'prod-us-east-1.lock'}"
    )
    assert err.value.holder["who"] == "alice@ops-2"


def test_other_stacks_and_later_promotions_are_not_blocked(tmp_path: Path) -> None:
    with PromotionLock(tmp_path, "prod-us-east-1", HOLDER):
        with PromotionLock(tmp_path, "prod-eu-central-1", HOLDER):
            pass
    with PromotionLock(tmp_path, "prod-us-east-1", HOLDER) as again:
        assert json.loads(again.path.read_text())["who"] == "alice@ops-2"
    assert again.path.read_text() == ""  # released: no stale holder


def test_a_lock_held_by_another_process_is_refused_and_freed_when_it_exits(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from gpufleet.promote.lock import PromotionLock
        lock = PromotionLock(Path({str(tmp_path)!r}), "prod-cn-hangzhou", {{"who": "carol@ci-7", "candidate": "green"}})
        lock.acquire()
        print("held", flush=True)
        sys.stdin.read()
    """)
    holder = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockHeld) as err:
            PromotionLock(tmp_path, "prod-cn-hangzhou", HOLDER).acquire()
        assert f"already being promoted by carol@ci-7 (pid {holder.pid}, promoting to green" in str(err.value)
    finally:
        holder.stdin.close()  # the holder exits; the kernel drops its lock
        holder.wait(timeout=10)
    with PromotionLock(tmp_path, "prod-cn-hangzhou", HOLDER):
        pass


def test_a_lock_file_without_a_name_still_refuses(tmp_path: Path) -> None:
    import fcntl
    import os

    path = tmp_path / "prod-us-east-1.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with pytest.raises(LockHeld) as err:
            PromotionLock(tmp_path, "prod-us-east-1", HOLDER).acquire()
    finally:
        os.close(fd)
    assert str(err.value) == (
        f"stack 'prod-us-east-1' is already being promoted by another process (it has not written its name yet); "
        f"lock file {path}"
    )


def test_audit_lines_carry_who_when_and_which_promotion(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "promotions.jsonl"
    times = iter(["2026-03-01T09:00:00.000Z", "2026-03-01T09:02:00.000Z"])
    log = AuditLog(path, stack="prod-us-east-1", candidate="green", actor="sre@bastion-1", promotion_id="p-1",
                   clock=lambda: next(times))
    log.record("apply", step=1, weights_before={"blue": 100}, weights_after={"blue": 90, "green": 10})
    other = AuditLog(path, stack="prod-eu-central-1", candidate="green", actor="sre@bastion-1", promotion_id="p-2")
    other.record("refused", why="lock held")
    log.record("finished", result="promoted")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0]) == {
        "ts": "2026-03-01T09:00:00.000Z", "promotion": "p-1", "stack": "prod-us-east-1", "candidate": "green",
        "who": "sre@bastion-1", "event": "apply", "step": 1, "weights_before": {"blue": 100},
        "weights_after": {"blue": 90, "green": 10},
    }
    assert [e["event"] for e in read_audit(path, "p-1")] == ["apply", "finished"]
    assert len(read_audit(path)) == 3


def test_default_actor_is_user_at_host() -> None:
    import socket

    user, _, host = who().partition("@")
    assert user and host == socket.gethostname()
