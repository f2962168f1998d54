"""`gpufleet promote` end to end: refusals with their one line, and a dry run against the real simulator."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from conftest import edited_stack, scratch_project
from gpufleet.cli import main
from gpufleet.promote.audit import read_audit

TRAFFIC = {"hostname": "assistant.example.com", "dnsZone": "example.com", "stackWeight": 50,
           "releaseWeights": {"blue": 100, "green": 0}}
# Small enough for a few seconds per gate against the simulator (itl_ms=5: ~0.7 s per request).
QUICK_SLO = {"targetUsers": 8, "durationS": 3, "warmupS": 0.5, "ttftP95Ms": 2000, "minSamples": 10,
             "maxErrorRate": 0.02, "minGoodput": 0.9}


def project(tmp_path: Path, **changes: Any) -> Path:
    """A project root whose stacks/ holds prod-us-east-1 with traffic and SLO blocks."""
    stacks = scratch_project(tmp_path / "root") / "stacks"
    stacks.mkdir(parents=True)
    blocks = copy.deepcopy({"gpufleet:traffic": TRAFFIC, "gpufleet:slo": QUICK_SLO})
    text = edited_stack("prod-us-east-1", {**blocks, **changes})
    (stacks / "Pulumi.prod-us-east-1.yaml").write_text(text, encoding="utf-8")
    return tmp_path / "root"


def promote(tmp_path: Path, *extra: str, root: Path | None = None) -> list[str]:
    return ["promote", "--stack", "prod-us-east-1", "--to", "green", "--root", str(root or project(tmp_path)),
            "--audit-log", str(tmp_path / "audit.jsonl"), "--lock-dir", str(tmp_path / "locks"), *extra]


@pytest.fixture
def no_pulumi(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


REFUSALS = [
    ((), "gpufleet promote: applying weights needs the Pulumi CLI, which is not on PATH; install it "
         "(https://www.pulumi.com/docs/install/), or rehearse with --dry-run --local"),
    (("--dry-run",), "gpufleet promote: a dry run against the cluster reads the stack's outputs with the Pulumi CLI, "
                     "which is not on PATH; install it, or rehearse with --dry-run --local"),
    (("--local",), "gpufleet promote: --local needs --dry-run: a simulator's verdict must never move real traffic"),
    (("--dry-run", "--local", "--host", "http://127.0.0.1:8000"),
     "gpufleet promote: --local and --host both choose the gate's target; give one"),
    (("--dry-run", "--sim", "itl_ms=5"), "gpufleet promote: --sim configures the local simulator; it needs --local"),
    (("--steps", "50,10"), "gpufleet promote: --steps must rise strictly; 10 follows 50"),
    (("--dry-run", "--local", "--settle", "-1"), "gpufleet promote: --settle and --timeout must be zero or more seconds"),
    (("--gate-rate", "12"), "gpufleet promote: --gate-rate, --gate-duration and --gate-warmup only shorten a "
                            "--dry-run; a promotion gates at the stack's SLO load"),
    (("--gate-warmup", "1"), "gpufleet promote: --gate-rate, --gate-duration and --gate-warmup only shorten a "
                             "--dry-run; a promotion gates at the stack's SLO load"),
    (("--analysis-interval", "5"), "gpufleet promote: --analysis-interval and --analysis-iterations only shorten a "
                                   "--dry-run; a promotion analyses each step as gpufleet:promotion says"),
    (("--dry-run", "--sim-at", "2:error_rate=0.3"),
     "gpufleet promote: --baseline-sim, --sim-at and --traffic-rate configure the local rehearsal; they need --local"),
    (("--dry-run", "--local", "--traffic-rate", "0"),
     "gpufleet promote: --traffic-rate must be above 0 and at most 500 requests per second; got 0"),
    (("--dry-run", "--local", "--sim-at", "4:error_rate=0.3"),
     "gpufleet promote: --sim-at '4:error_rate=0.3': expected STEP:KEY=VALUE with STEP from 1 to 3, KEY one of "
     "error_rate, stall_rate, stall_ms, disconnect_rate, malformed_rate, ttft_ms, itl_ms and VALUE a number >= 0 "
     "(e.g. 2:error_rate=0.3)"),
    (("--dry-run", "--local", "--sim-at", "2:temperature=1"),
     "gpufleet promote: --sim-at '2:temperature=1': expected STEP:KEY=VALUE with STEP from 1 to 3, KEY one of "
     "error_rate, stall_rate, stall_ms, disconnect_rate, malformed_rate, ttft_ms, itl_ms and VALUE a number >= 0 "
     "(e.g. 2:error_rate=0.3)"),
    (("--dry-run", "--local", "--analysis-interval", "1"),
     "gpufleet promote: --analysis-interval: must be a number of seconds from 2 to 3600 (and at least twice "
     "Prometheus's scrape interval, so that rate() sees two samples); got 1.0"),
    (("--dry-run", "--local", "--analysis-iterations", "0"),
     "gpufleet promote: --analysis-iterations: must be an integer from 1 to 100; got 0"),
]


@pytest.mark.parametrize("extra, line", REFUSALS)
def test_refusals_print_one_line_and_exit_2(tmp_path: Path, no_pulumi: None, capsys: pytest.CaptureFixture[str],
                                             extra: tuple[str, ...], line: str) -> None:
    assert main(promote(tmp_path, *extra)) == 2
    captured = capsys.readouterr()
    assert captured.err == line + "\n" and captured.out == ""
    assert not (tmp_path / "audit.jsonl").exists()


def test_config_problems_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path, **{"gpufleet:traffic.releaseWeights.blue": 90})
    assert main(promote(tmp_path, "--dry-run", "--local", root=root)) == 2
    assert capsys.readouterr().err == (
        "gpufleet promote: stack 'prod-us-east-1': gpufleet:traffic.releaseWeights: weights must add up to 100; "
        "got 90 (blue=90, green=0)\n"
    )


def test_promotion_config_problems_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path, **{"gpufleet:promotion": {"failureLimit": 0}})
    assert main(promote(tmp_path, "--dry-run", "--local", root=root)) == 2
    assert capsys.readouterr().err == (
        "gpufleet promote: stack 'prod-us-east-1': gpufleet:promotion.failureLimit: must be an integer from 1 to 100; "
        "got 0\n"
    )
    assert not (tmp_path / "audit.jsonl").exists()


def test_unknown_release_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = promote(tmp_path, "--dry-run", "--local")
    args[args.index("green")] = "purple"
    assert main(args) == 2
    assert capsys.readouterr().err == (
        "gpufleet promote: --to 'purple' is not a release of stack 'prod-us-east-1' (allowed: blue, green)\n"
    )


@pytest.mark.slow
def test_a_rehearsal_whose_gate_fails_shifts_nothing_and_exits_1(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code = main(promote(tmp_path, "--dry-run", "--local", "--steps", "100", "--sim", "itl_ms=5",
                        "--sim", "error_rate=0.5", "--settle", "0"))
    out = capsys.readouterr().out.splitlines()
    assert code == 1, out
    assert out[-2].startswith("rehearsal-rolled-back: step 1 gate verdict fail: objectives missed: error_rate")
    events = read_audit(tmp_path / "audit.jsonl")
    finished = events[-1]
    assert (finished["event"], finished["result"], finished["weights"]) == (
        "finished", "rehearsal-rolled-back", {"blue": 100, "green": 0})
    assert "applied" not in {e["event"] for e in events}
    assert "analysis summary: no step was analysed on live traffic" in out


def test_dry_run_gate_load_override_keeps_the_sample_floor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 1 req/s for 3 s cannot reach the SLO's minSamples (10): refused before any traffic
    code = main(promote(tmp_path, "--dry-run", "--local", "--gate-rate", "1", "--gate-duration", "3"))
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("gpufleet promote: --gate-rate/--gate-duration/--gate-warmup: ") and "minSamples" in err
