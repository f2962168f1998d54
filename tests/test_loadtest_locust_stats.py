"""TTFT, TPOT and ITL in Locust's own statistics: bulk ITL logging equals Locust's per-value log,
and a real headless Locust run writes TTFT/ITL/TPOT rows into its --csv output.

Importing Locust monkey-patches the whole process with gevent (which would hang later tests that use
threads and asyncio, e.g. the Pulumi previews), so everything touching Locust runs in a subprocess."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from gpufleet.loadtest.rawrun import read_run
from gpufleet.simserver.launch import LocalServer

REPO = Path(__file__).resolve().parents[1]

BULK_CHECK = """
from locust import stats
from locust.stats import RequestStats
from common.locust_stats import log_many

def same(values):
    one, bulk = RequestStats(), RequestStats()
    for value in values:
        one.get("chat", "ITL").log(value, 0)
    log_many(bulk.get("chat", "ITL"), values)
    log_many(bulk.get("chat", "ITL"), [])  # nothing changes nothing
    a, b = one.get("chat", "ITL"), bulk.get("chat", "ITL")
    assert (b.num_requests, b.total_response_time, b.min_response_time, b.max_response_time) == (
        a.num_requests, a.total_response_time, a.min_response_time, a.max_response_time)
    assert b.response_times == a.response_times and sum(b.num_reqs_per_sec.values()) == len(values)
    assert b.get_response_time_percentile(0.95) == a.get_response_time_percentile(0.95)
    return dict(b.response_times)

same([0.4, 19.6, 20.2, 20.5, 99.4, 147.0, 3432.0, 58760.0])
assert same([0.4, 19.5, 20.5, 99.4, 99.6]) == {0: 1, 20: 2, 99: 1, 100: 1}  # all below 100 ms: the fast path
stats.bucket_response_time = lambda ms: int(ms) // 5 * 5  # a run's own bucketing is used as is
assert same([0.4, 19.6, 20.2, 24.9, 99.4]) == {0: 1, 15: 1, 20: 2, 95: 1}
print("same")
"""


def test_bulk_logging_matches_locusts_own_log():
    done = subprocess.run([sys.executable, "-c", BULK_CHECK], cwd=REPO / "loadtests",  # `common` from there
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "same"), done.stderr[-2000:]


@pytest.mark.slow
def test_locust_csv_has_ttft_itl_and_tpot_rows(tmp_path):
    with LocalServer(ttft_ms=30, itl_ms=5, seed=3, jitter=0.0) as server:
        argv = [sys.executable, "-m", "locust", "-f", str(REPO / "loadtests" / "chat.py"), "--headless",
                "--host", server.url, "-u", "2", "-r", "2", "--run-time", "30s", "--only-summary",
                "--csv", str(tmp_path / "locust"), "--gpufleet-duration", "3", "--gpufleet-autoquit",
                "--gpufleet-out", str(tmp_path / "run.json"), "--gpufleet-workload", "completions"]
        subprocess.run(argv, cwd=tmp_path, check=True, capture_output=True, timeout=60)
    with open(tmp_path / "locust_stats.csv", newline="") as fh:
        rows = {(r["Type"], r["Name"]): r for r in csv.DictReader(fh)}
    run = read_run(tmp_path / "run.json")
    ok = [r for r in run.records if r.ok]
    assert ok and {("POST", "completions"), ("TTFT", "completions"), ("ITL", "completions"),
                   ("TPOT", "completions")} <= set(rows)
    counted = int(rows[("POST", "completions")]["Request Count"])  # Locust's CSV may miss the last few at quit
    assert 0 < counted <= len(ok) and all(len(r.chunk_gaps_ms) == 63 for r in ok)  # 64 tokens, a chunk each
    assert int(rows[("TTFT", "completions")]["Request Count"]) == counted
    assert int(rows[("TPOT", "completions")]["Request Count"]) == counted
    assert int(rows[("ITL", "completions")]["Request Count"]) == 63 * counted
    assert 25 <= float(rows[("TTFT", "completions")]["Median Response Time"]) < 200
    assert 3 <= float(rows[("ITL", "completions")]["Median Response Time"]) < 30
