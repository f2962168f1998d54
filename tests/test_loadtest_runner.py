"""The Locust command line, progress lines, and which targets a load test may hit."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gpufleet.loadtest.runner import (
    LOADTESTS_DIR,
    HarnessError,
    LoadPlan,
    locust_argv,
    parse_progress,
    run_locust,
    workload_names,
)
from gpufleet.loadtest.target import TargetError, check_target, is_loopback_host

CLOSED = LoadPlan(target="http://127.0.0.1:8000", workload="chinese_chat", duration_s=30, warmup_s=5, users=8,
                  processes=2, seed=3, timeout_s=60, stall_timeout_s=10)


def test_a_closed_loop_command_line():
    argv = locust_argv(CLOSED, out_path=Path("/tmp/x/run.json"), run_id="abc")
    assert argv == [
        sys.executable, "-m", "locust", "-f", str(LOADTESTS_DIR / "chinese_chat.py"), "--headless",
        "--host", "http://127.0.0.1:8000", "-u", "8", "-r", "8", "--run-time", "120s",
        "--exit-code-on-error", "0", "--only-summary", "--loglevel", "WARNING",
        "--gpufleet-workload", "chinese_chat", "--gpufleet-warmup", "5.0", "--gpufleet-duration", "30.0",
        "--gpufleet-seed", "3", "--gpufleet-timeout", "60.0", "--gpufleet-stall-timeout", "10.0",
        "--gpufleet-run-id", "abc", "--gpufleet-out", "/tmp/x/run.json", "--gpufleet-autoquit", "--gpufleet-progress",
        "--processes", "2", "--expect-workers-max-wait", "60",
    ]


def test_an_open_loop_has_one_dispatcher_per_process_sharing_rate_and_cap():
    plan = LoadPlan(target="http://127.0.0.1:8000", workload="completions", duration_s=10, warmup_s=0, rate=12.5,
                    processes=3, max_in_flight=256, model="m1")
    argv = locust_argv(plan, out_path=Path("o.json"), run_id="r")
    assert argv[4] == str(LOADTESTS_DIR / "chat.py")  # no locustfile of its own
    assert argv[argv.index("-u") + 1] == "3"
    tail = argv[argv.index("--gpufleet-progress") + 1:]
    assert tail == ["--gpufleet-rate", "12.5", "--gpufleet-dispatchers", "3", "--gpufleet-max-in-flight", "86",
                    "--gpufleet-model", "m1", "--processes", "3", "--expect-workers-max-wait", "60"]


def test_never_more_processes_than_closed_loop_users():
    plan = LoadPlan(target="http://127.0.0.1:1", workload="short_chat", duration_s=1, warmup_s=0, users=1,
                    processes=4)
    assert plan.effective_processes == 1
    assert "--processes" not in locust_argv(plan, out_path=Path("o"), run_id="r")


def test_plan_validation_messages():
    with pytest.raises(ValueError, match=r"^a load plan needs exactly one of users \(closed loop\) or rate "
                                         r"\(open loop\)$"):
        LoadPlan(target="t", workload="w", duration_s=1, warmup_s=0)
    with pytest.raises(ValueError, match=r"^processes must be at least 1, got 0$"):
        LoadPlan(target="t", workload="w", duration_s=1, warmup_s=0, users=1, processes=0)


def test_progress_lines_are_recognised():
    assert parse_progress('GPUFLEET_PROGRESS {"records": 3}') == {"records": 3}
    assert parse_progress("GPUFLEET_PROGRESS not json") is None
    assert parse_progress("[2026-01-01] INFO locust.main: Starting") is None


def test_unknown_workloads_are_refused_before_anything_runs():
    assert workload_names() == ["chinese_chat", "completions", "long_context", "mixed", "short_chat"]
    plan = LoadPlan(target="http://127.0.0.1:1", workload="video", duration_s=1, warmup_s=0, users=1)
    with pytest.raises(HarnessError, match=r"^unknown workload 'video'; known: chinese_chat, completions, "
                                           r"long_context, mixed, short_chat$"):
        run_locust(plan)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://localhost:1/", "https://[::1]:8443/v1",
                                 "http://127.10.0.3"])
def test_loopback_targets_are_allowed(url):
    assert check_target(url) == url.rstrip("/")


def test_remote_targets_need_an_explicit_flag():
    with pytest.raises(TargetError, match=r"^refusing to load-test 'vllm\.example\.com': only loopback targets "
                                          r"\(127\.0\.0\.1, ::1, localhost\) are allowed without --allow-remote$"):
        check_target("http://vllm.example.com:8000")
    with pytest.raises(TargetError, match="refusing to load-test '10.0.0.5'"):
        check_target("http://10.0.0.5:8000")
    assert check_target("http://vllm.llm.svc:8000/", allow_remote=True) == "http://vllm.llm.svc:8000"
    assert not is_loopback_host("localhost.example.com")


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://127.0.0.1", "target must be an http(s) URL like http://127.0.0.1:8000, got 'ftp://127.0.0.1'"),
    ("127.0.0.1:8000", "target must be an http(s) URL like http://127.0.0.1:8000, got '127.0.0.1:8000'"),
    ("http://127.0.0.1:8000/?a=1", "target must not carry a query or fragment, got 'http://127.0.0.1:8000/?a=1'"),
    ("http://127.0.0.1:99999", "target has an invalid port: 'http://127.0.0.1:99999'"),
])
def test_malformed_targets(url, message):
    with pytest.raises(TargetError) as info:
        check_target(url)
    assert str(info.value) == message
