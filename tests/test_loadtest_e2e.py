"""End to end against the local vLLM simulator: real Locust subprocesses, real sockets.

Each run is a few seconds at low concurrency. Counts are reconciled with the
simulator's ground truth (GET /sim/requests): every request the server saw
is a record, and client timings are compared with the server's own stamps.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import jsonschema
import pytest

from gpufleet.loadtest import SloSpec, Verdict, judge_run, run_gate
from gpufleet.loadtest.preflight import TargetUnavailable
from gpufleet.simserver.launch import LocalServer

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
LENIENT = SloSpec(target_users=2, duration_s=3.0, warmup_s=0.5, ttft_p95_ms=2000, tpot_p95_ms=200,
                  max_error_rate=0.01, min_goodput=0.9, goodput_ttft_ms=2000, goodput_tpot_ms=200, min_samples=4,
                  workload="completions")


def server_truth(url: str, run_id: str) -> dict[str, dict]:
    with urllib.request.urlopen(f"{url}/sim/requests", timeout=10) as response:
        requests = json.load(response)["requests"]
    return {r["id"]: r for r in requests if r["id"].startswith(f"{run_id}-")}


def test_closed_loop_passes_and_matches_the_server_ground_truth():
    with LocalServer(ttft_ms=40, itl_ms=4, seed=1, jitter=0.0) as server:
        report = run_gate(server.url, server.model, LENIENT.model_copy(update={"workload": "short_chat"}))
        truth = server_truth(server.url, report.run.run_id)
    assert report.gate.verdict is Verdict.PASS, report.gate.reason
    records = report.run.records
    assert len(records) == len(truth) and {r.request_id for r in records} == set(truth)
    for record in records:
        assert record.ok
        assert record.output_tokens == record.max_tokens == truth[record.request_id]["completion_tokens"]
        assert record.prompt_tokens == record.input_tokens_target == truth[record.request_id]["prompt_tokens"]
    # Client TTFT minus the server's own receive-to-first-write time: what the client adds.
    overhead = [r.ttft_ms - (truth[r.request_id]["first_token_at"] - truth[r.request_id]["received_at"]) * 1000
                for r in records]
    assert statistics.median(overhead) < 25.0
    assert report.stats.ttft_ms.p50 >= 40.0
    assert report.stats.client.users == 2 and report.stats.warmup_dropped > 0


def test_open_loop_over_two_worker_processes_adds_up():
    slo = LENIENT.model_copy(update={"target_users": None, "target_rate": 6.0})
    with LocalServer(ttft_ms=30, itl_ms=3, seed=2) as server:
        report = run_gate(server.url, server.model, slo, processes=2)
        truth = server_truth(server.url, report.run.run_id)
    run = report.run
    assert run.complete, run.incomplete_reason
    assert [(p.process, p.users, p.done) for p in run.processes] == [("w0", 1, True), ("w1", 1, True)]
    assert {r.process for r in run.records} == {"w0", "w1"}
    assert len(run.records) == len(truth) and {r.request_id for r in run.records} == set(truth)
    assert report.stats.scheduled_rate > 0
    assert report.gate.verdict is Verdict.PASS, report.gate.reason
    delays = [r.schedule_delay_ms for r in run.records]
    assert min(delays) >= 0 and report.stats.schedule_delay_ms.p99 < 50


@pytest.mark.parametrize(("faults", "expected"), [
    ({"error_rate": 0.4}, {"http_error"}),
    ({"disconnect_rate": 0.4}, {"truncated"}),
    ({"malformed_rate": 0.4}, {"malformed"}),
    ({"stall_rate": 0.5, "stall_ms": 2000}, {"timeout"}),
], ids=["errors", "disconnects", "malformed", "stalls"])
def test_injected_faults_never_pass(faults, expected):
    with LocalServer(ttft_ms=20, itl_ms=3, seed=5, **faults) as server:
        report = run_gate(server.url, server.model, LENIENT.model_copy(update={"target_users": 3}),
                          stall_timeout_s=0.5, timeout_s=5.0)
        truth = server_truth(server.url, report.run.run_id)
    assert report.gate.verdict in (Verdict.FAIL, Verdict.INVALID)
    assert not report.gate.allows_traffic
    assert set(report.stats.failures) == expected
    assert len(report.run.records) == len(truth)
    failed = [r for r in report.run.records if r.failed]
    assert failed and report.stats.e2e_ms.count == report.stats.ok


def test_a_dead_target_fails_and_a_harness_error_is_invalid():
    port = free_port()  # nothing listens there
    slo = LENIENT.model_copy(update={"duration_s": 1.0, "warmup_s": 0.0})
    with pytest.raises(TargetUnavailable, match=r"GET /v1/models failed \(ConnectionRefusedError"):
        run_gate(f"http://127.0.0.1:{port}", "m", slo)  # refused within seconds, before any load
    # Without the check (a target that dies after it), the load test itself measures it: a failure.
    dead = run_gate(f"http://127.0.0.1:{port}", "m", slo, check=False)
    assert dead.gate.verdict is Verdict.FAIL and set(dead.stats.failures) == {"connection_error"}
    assert dead.stats.error_rate == 1.0 and dead.stats.requests < 100  # paced, not spinning
    # Model discovery itself fails: a dead server is still the server's failure (issue #16), recorded
    # request by request, paced by the same backoff; only the harness's own faults are invalid.
    no_model = run_gate(f"http://127.0.0.1:{port}", None, slo, check=False)
    assert no_model.gate.verdict is Verdict.FAIL and no_model.harness_error is None
    assert set(no_model.stats.failures) == {"connection_error"} and no_model.stats.requests < 100
    assert {r.endpoint for r in no_model.run.records} == {"models"}
    broken = judge_run(None, slo, target="t", harness_error="Locust exited with status 1")
    assert broken.gate.verdict is Verdict.INVALID and broken.gate.reason.startswith("harness error: ")


def test_the_command_writes_json_html_and_csv(tmp_path):
    cmd = [sys.executable, "-m", "gpufleet.cli", "loadtest", "--local", "--sim", "ttft_ms=30", "--sim", "itl_ms=3",
           "--workload", "completions", "--users", "2", "--duration", "2", "--warmup", "0.5", "--min-samples", "3",
           "--json", str(tmp_path / "r.json"), "--html", str(tmp_path / "r.html"), "--csv", str(tmp_path / "r.csv")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=90, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    schema = json.loads((REPO / "gpufleet" / "loadtest" / "report.schema.json").read_text())
    jsonschema.validate(doc, schema)
    assert doc["gate"]["verdict"] == "pass" and doc["requests"] >= 3
    assert "verdict: PASS" in done.stderr
    rows = (tmp_path / "r.csv").read_text().strip().splitlines()
    assert len(rows) - 1 >= doc["requests"]
    assert (tmp_path / "r.html").read_text().count("<svg") == 9


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(url: str, data: dict | None = None) -> dict:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    with urllib.request.urlopen(url, data=body, timeout=10) as response:
        return json.load(response)


def test_plain_locust_with_the_web_ui_still_works(tmp_path):
    with LocalServer(ttft_ms=20, itl_ms=2) as server:
        port = free_port()
        ui = f"http://127.0.0.1:{port}"
        process = subprocess.Popen(
            [sys.executable, "-m", "locust", "-f", str(REPO / "loadtests" / "chat.py"), "--host", server.url,
             "--web-host", "127.0.0.1", "--web-port", str(port)],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    http(f"{ui}/stats/requests")
                    break
                except OSError:
                    assert time.monotonic() < deadline, "the web UI did not come up"
                    time.sleep(0.2)
            assert http(f"{ui}/swarm", {"user_count": 2, "spawn_rate": 2, "host": server.url})["success"]
            time.sleep(2.5)
            stats = http(f"{ui}/stats/requests")
            row = next(s for s in stats["stats"] if s["name"] == "short_chat")
            assert row["num_requests"] >= 2 and row["num_failures"] == 0
            http(f"{ui}/stop", {})
            time.sleep(0.5)
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=30)
    assert "gpufleet exact statistics (" in stderr
    assert "TTFT  ms  p50" in stderr
