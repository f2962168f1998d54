"""CLI edges: an empty --host, an unknown workload, and Ctrl-C (130 everywhere, after the audit log has it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gpufleet.cli import main
from gpufleet.promote.audit import read_audit
from test_promote_command import project, promote

CASES = [
    (["loadtest", "--host", ""],
     "error: --host is empty; give the endpoint's base URL (e.g. http://127.0.0.1:8000) or use --local"),
    (["loadtest", "--host", "   ", "--stack", "prod-us-east-1"],
     "error: --host is empty; give the endpoint's base URL (e.g. http://127.0.0.1:8000) or use --local"),
    (["loadtest", "--workload", "nosuch", "--quiet"],
     "error: unknown workload 'nosuch' (allowed: chinese_chat, completions, long_context, mixed, short_chat)"),
    (["loadtest", "--host", "http://127.0.0.1:9", "--stack", "prod-us-east-1", "--workload", "nosuch"],
     "error: unknown workload 'nosuch' (allowed: chinese_chat, completions, long_context, mixed, short_chat)"),
    (["promote", "--stack", "prod-us-east-1", "--to", "green", "--dry-run", "--local", "--host", ""],
     "gpufleet promote: --host is empty; give the candidate's base URL, or leave --host out to use the gateway"),
]


@pytest.mark.parametrize("argv, line", CASES)
def test_usage_errors_exit_2_with_one_line(argv: list[str], line: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err == line + "\n" and "Traceback" not in captured.out


def test_promote_refuses_a_stack_whose_slo_names_an_unknown_workload(tmp_path: Path, capsys) -> None:
    root = project(tmp_path, **{"gpufleet:slo.workload": "nosuch"})
    assert main(promote(tmp_path, "--dry-run", "--local", root=root)) == 2
    assert capsys.readouterr().err == (
        "gpufleet promote: stack 'prod-us-east-1': gpufleet:slo.workload: unknown workload 'nosuch' "
        "(allowed: chinese_chat, completions, long_context, mixed, short_chat)\n")


def test_ctrl_c_in_any_command_is_130_with_one_line(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import gpufleet.commands.cost as cost

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cost, "run", interrupted)
    assert main(["cost"]) == 130
    assert capsys.readouterr().err == "gpufleet cost: interrupted (Ctrl-C)\n"


def test_ctrl_c_during_a_dry_run_gate_is_130_and_logged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys) -> None:
    from gpufleet.promote import gates

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(gates.LoadTestGate, "check", interrupted)
    assert main(promote(tmp_path, "--dry-run", "--local", "--steps", "100")) == 130
    assert "interrupted: interrupted (Ctrl-C)" in capsys.readouterr().out
    finished = read_audit(tmp_path / "audit.jsonl")[-1]
    assert (finished["event"], finished["result"], finished["exit_code"]) == ("finished", "interrupted", 130)


@pytest.mark.slow
def test_a_real_sigint_to_a_running_load_test_exits_130_without_a_traceback(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "gpufleet.cli", "loadtest", "--local", "--users", "2", "--duration", "30",
            "--warmup", "1", "--min-samples", "5", "--quiet"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(6)  # the simulator is up and Locust is sending
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "gpufleet loadtest: interrupted (Ctrl-C)" and "Traceback" not in err


@pytest.mark.slow
def test_a_real_sigint_to_a_dry_run_promotion_exits_130_after_the_audit_log_has_it(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "gpufleet.cli", *promote(tmp_path, "--dry-run", "--local", "--steps", "50,100",
                                                         "--gate-rate", "4", "--gate-duration", "20")]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(7)  # the first gate's load test is running
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in out + err and out.splitlines()[-2] == "interrupted: interrupted (Ctrl-C)"
    finished = read_audit(tmp_path / "audit.jsonl")[-1]
    assert (finished["event"], finished["result"], finished["exit_code"]) == ("finished", "interrupted", 130)
