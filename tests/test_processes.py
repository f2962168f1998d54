"""The shared child-process helpers: stopping (alone or with the child's process group) and workdirs."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from gpufleet.processes import WorkdirProcess, free_port, stop_process

# A child that ignores SIGTERM, so only SIGKILL after the grace period stops it.
STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
# A group leader with a grandchild: stopping the group must stop both.
PARENT = ("import subprocess, sys, time; c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
          "print(c.pid, flush=True); time.sleep(60)")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie awaiting its reaper counts as gone
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period():
    child = subprocess.Popen([sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE)
    assert child.stdout.readline() == b"up\n"
    started = time.monotonic()
    stop_process(child, 0.3)
    assert child.returncode == -9 and time.monotonic() - started < 5
    stop_process(child, 0.3)  # idempotent
    stop_process(None, 0.3)


def test_group_stop_takes_the_grandchildren_too():
    leader = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, start_new_session=True)
    grandchild = int(leader.stdout.readline())
    stop_process(leader, 5, group=True)
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leader.returncode is not None and not _alive(grandchild)


class Sleeper(WorkdirProcess):
    LOG = "sleeper.log"
    GRACE_S = 1.0

    def start(self) -> Sleeper:
        workdir = self._workdir("gpufleet-test-")
        self._spawn([sys.executable, "-c", "print('hello from the child', flush=True); import time; time.sleep(60)"],
                    cwd=workdir)
        return self


def test_a_workdir_process_logs_there_and_removes_it_on_stop():
    with Sleeper() as sleeper:
        workdir = sleeper._dir
        deadline = time.monotonic() + 10
        while "hello" not in sleeper.log_tail() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sleeper.log_tail() == "hello from the child\n" and sleeper.process.poll() is None
        process = sleeper.process
    assert process.poll() is not None and not workdir.exists() and sleeper.process is None
    assert sleeper.log_tail() == ""


def test_free_port_is_a_bindable_loopback_port():
    assert 1024 <= free_port() <= 65535


class GroupLeader(WorkdirProcess):
    GROUP = True

    def start(self) -> GroupLeader:
        self._spawn([sys.executable, "-c", PARENT], cwd=self._workdir("gpufleet-test-"))  # no start_new_session
        return self


def test_a_group_workdir_process_leads_its_own_group_and_stops_with_its_children():
    with GroupLeader() as leader:
        assert os.getpgid(leader.process.pid) == leader.process.pid != os.getpgid(0)
        deadline = time.monotonic() + 10
        while not leader.log_tail().strip() and time.monotonic() < deadline:
            time.sleep(0.05)
        grandchild = int(leader.log_tail())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)
