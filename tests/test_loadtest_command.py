"""`gpufleet loadtest`: exit codes, usage errors with exact messages, re-judging saved runs."""

from __future__ import annotations

import json

import pytest

from gpufleet.cli import main
from gpufleet.loadtest.rawrun import ProcessSummary, RawRun, write_run
from gpufleet.loadtest.records import Outcome, RequestRecord

T0 = 1_700_000_000.0


def saved_run(path, *, ttft: float = 100.0, complete: bool = True, failures: int = 0) -> None:
    records = []
    for i in range(60):
        at = T0 + 2 + i * 0.2
        outcome = Outcome.TIMEOUT if i < failures else Outcome.OK
        records.append(RequestRecord(request_id=f"r{i}", process="local", workload="short_chat", endpoint="chat",
                                     stream=True, scheduled_at=at, sent_at=at + 0.001, outcome=outcome, ttft_ms=ttft,
                                     e2e_ms=ttft + 990.0, chunk_gaps_ms=(10.0,) * 99, output_tokens=100,
                                     max_tokens=100))
    proc = ProcessSummary(process="local", users=0, cpu=tuple((T0 + s, 0.1) for s in range(20)),
                          loop_lag_ms=tuple((T0 + s, 1.0) for s in range(20)), done=complete)
    write_run(RawRun(run_id="saved", target="http://127.0.0.1:8000", model="llama", workload="short_chat",
                     mode="open", users=None, rate=5.0, warmup_s=2.0, duration_s=12.0, max_in_flight=64, seed=0,
                     started_at=T0, complete=complete, incomplete_reason="" if complete else "w1 never reported",
                     processes=(proc,), records=tuple(records)), path)


def slo_file(tmp_path, **overrides) -> str:
    body = {"targetRate": 5, "durationS": 12, "warmupS": 2, "ttftP95Ms": 500, "tpotP95Ms": 20, "minSamples": 50,
            "goodputTtftMs": 500, "goodputTpotMs": 20, **overrides}
    path = tmp_path / "slo.yaml"
    path.write_text(json.dumps({"gpufleet:slo": body}))
    return str(path)


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["loadtest", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_saved_run_that_meets_the_slo_passes(tmp_path, capsys):
    saved_run(tmp_path / "run.json")
    code, out, err = run_cli(capsys, "--from-run", str(tmp_path / "run.json"), "--slo", slo_file(tmp_path),
                             "--json", str(tmp_path / "report.json"), "--quiet")
    assert (code, out, err) == (0, "", "")
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["gate"]["verdict"] == "pass" and doc["requests"] == 60 and doc["profile"]["rate"] == 5.0


def test_a_saved_run_that_misses_the_slo_fails_with_exit_1(tmp_path, capsys):
    saved_run(tmp_path / "run.json", ttft=800.0)
    code, out, _ = run_cli(capsys, "--from-run", str(tmp_path / "run.json"), "--slo", slo_file(tmp_path),
                           "--json-line", "--quiet")
    assert code == 1
    assert out.startswith("GPUFLEET_REPORT ") and out.count("\n") == 1
    doc = json.loads(out.removeprefix("GPUFLEET_REPORT "))
    assert doc["gate"]["reason"] == "objectives missed: ttft_p95_ms, goodput"


def test_an_incomplete_run_is_invalid_with_exit_3(tmp_path, capsys):
    saved_run(tmp_path / "run.json", complete=False)
    code, _, err = run_cli(capsys, "--from-run", str(tmp_path / "run.json"), "--slo", slo_file(tmp_path))
    assert code == 3
    assert "verdict: INVALID - harness error: w1 never reported" in err


def test_a_missing_run_file_is_invalid_not_a_pass(tmp_path, capsys):
    code, _, err = run_cli(capsys, "--from-run", str(tmp_path / "nope.json"), "--slo", slo_file(tmp_path))
    assert code == 3
    assert "harness error: cannot read the run: [Errno 2] No such file or directory" in err


def test_a_remote_host_is_refused_without_allow_remote(capsys):
    code, _, err = run_cli(capsys, "--host", "http://api.example.com:8000", "--quiet")
    assert code == 2
    assert err == ("error: refusing to load-test 'api.example.com': only loopback targets (127.0.0.1, ::1, "
                   "localhost) are allowed without --allow-remote\n")


@pytest.mark.parametrize(("args", "message"), [
    (["--host", "http://127.0.0.1:1", "--local"], "error: give either --host or --local, not both\n"),
    (["--host", "http://127.0.0.1:1", "--sim", "error_rate=0.5"], "error: --sim only applies to --local\n"),
    (["--local", "--sim", "error_rate"], "error: --sim expects KEY=VALUE, got 'error_rate'\n"),
    (["--host", "http://127.0.0.1:1", "--processes", "0"], "error: --processes must be at least 1, got 0\n"),
    (["--host", "http://127.0.0.1:1", "--rate", "1", "--duration", "10"],
     "error: SLO: targetRate x durationS = 10 requests, fewer than minSamples (50); lengthen durationS or lower "
     "minSamples\n"),
    (["--host", "http://127.0.0.1:1", "--users", "0"], "error: SLO: targetUsers must be at least 1, got 0\n"),
])
def test_usage_errors_exit_2_with_a_clear_message(capsys, args, message):
    code, out, err = run_cli(capsys, *args, "--quiet")
    assert (code, out, err) == (2, "", message)


def test_a_bad_slo_file_names_the_key(tmp_path, capsys):
    code, _, err = run_cli(capsys, "--host", "http://127.0.0.1:1", "--slo", slo_file(tmp_path, ttftP95Ms=-1))
    assert code == 2
    assert err == (f"error: SLO file {tmp_path / 'slo.yaml'}: ttftP95Ms must be a positive number "
                   "of milliseconds, got -1.0\n")


def test_a_type_error_in_the_slo_file_is_prefixed_with_its_key(tmp_path, capsys):
    code, _, err = run_cli(capsys, "--host", "http://127.0.0.1:1", "--slo", slo_file(tmp_path, durationS="long"))
    assert code == 2
    assert err == (f"error: SLO file {tmp_path / 'slo.yaml'}: durationS: Input should be a valid number, "
                   "unable to parse string as a number\n")


def test_an_unknown_stack_is_a_config_error(capsys):
    code, _, err = run_cli(capsys, "--host", "http://127.0.0.1:1", "--stack", "no-such-stack", "--quiet")
    assert code == 2 and err.startswith("error: ") and "no-such-stack" in err


def test_users_and_rate_are_mutually_exclusive(capsys):
    with pytest.raises(SystemExit) as info:
        main(["loadtest", "--users", "2", "--rate", "1"])
    assert info.value.code == 2
    assert "argument --rate: not allowed with argument --users" in capsys.readouterr().err


def test_local_simulator_serves_the_stacks_main_release():
    import argparse
    from gpufleet.commands.loadtest import local_model
    assert local_model(argparse.Namespace(stack="prod-us-east-1")) == {"model": "qwen2.5-7b-instruct"}
    assert local_model(argparse.Namespace(stack="prod-cn-beijing")) == {"model": "qwen2.5-72b-instruct"}
    assert local_model(argparse.Namespace(stack=None)) == {}
