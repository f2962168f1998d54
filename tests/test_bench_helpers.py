"""Pure helpers of the load-test benchmarks in bench/ (the benchmarks themselves are not tests)."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
import accuracy_truth  # noqa: E402
import benchlib  # noqa: E402
import client_capacity  # noqa: E402
import make_tokenizer  # noqa: E402

from gpufleet.loadtest.stats import percentile as stats_percentile  # noqa: E402
from gpufleet.tokens import OUTPUT_VOCAB, count_tokens, tokenize  # noqa: E402


# -- CPU accounting -------------------------------------------------------------
def test_parse_stat_reads_own_and_children_times_after_the_command_name():
    tck = benchlib.CLK_TCK
    # comm with spaces and parentheses must not shift the fields
    line = f"123 (my (odd) name) S 1 123 123 0 -1 4194304 10 0 0 0 {3 * tck} {tck} {2 * tck} {tck} 20 0 1 0"
    own, children = benchlib.parse_stat(line)
    assert own == pytest.approx(4.0)
    assert children == pytest.approx(3.0)


def test_process_cpu_of_a_missing_process_is_zero():
    assert benchlib.process_cpu(2**22 + 12345) == 0.0


def test_tree_cpu_includes_a_busy_child():
    child = subprocess.Popen([sys.executable, "-c", "import time\nt=time.process_time()\n"
                              "while time.process_time()-t<0.3: pass\ntime.sleep(5)"])
    try:
        deadline = time.time() + 10
        while time.time() < deadline and benchlib.process_cpu(child.pid) < 0.3:
            time.sleep(0.05)
        assert child.pid in benchlib.tree_pids(os.getpid())
        mine = benchlib.process_cpu(os.getpid())
        assert benchlib.tree_cpu(os.getpid()) >= mine + 0.25
        assert benchlib.tree_cpu(os.getpid(), exclude=[child.pid]) < mine + 0.25
    finally:
        child.kill()
        child.wait()


def test_window_cpu_share_interpolates_between_samples():
    samples = [(100.0, {"c": 10.0}), (102.0, {"c": 11.0}), (104.0, {"c": 13.0})]
    assert benchlib.value_at(samples, "c", 101.0) == pytest.approx(10.5)
    assert benchlib.value_at(samples, "c", 99.0) == 10.0
    assert benchlib.value_at(samples, "c", 200.0) == 13.0
    # 101 -> 103: 10.5 -> 12.0 = 1.5 CPU seconds in 2 s
    assert benchlib.window_cpu_share(samples, "c", 101.0, 103.0) == pytest.approx(0.75)
    with pytest.raises(ValueError):
        benchlib.window_cpu_share(samples, "c", 103.0, 103.0)


def test_cpu_sampler_records_samples_until_closed():
    counter = iter(range(1000))
    with benchlib.CpuSampler({"n": lambda: float(next(counter))}, interval=0.01) as sampler:
        time.sleep(0.1)
    assert len(sampler.samples) >= 3
    times = [t for t, _ in sampler.samples]
    assert times == sorted(times)


# -- simulator endpoints ----------------------------------------------------------
METRICS = """# HELP vllm:generation_tokens Number of generation tokens processed.
# TYPE vllm:generation_tokens counter
vllm:generation_tokens_total{engine="0",model_name="m"} 1234.0
vllm:num_requests_running{engine="0",model_name="m"} 7.0
vllm:request_success_total{engine="0",finished_reason="stop",model_name="m"} 2.0
vllm:request_success_total{engine="0",finished_reason="length",model_name="m"} 40.0
vllm:request_success_total{engine="0",finished_reason="abort",model_name="m"} 5.0
"""


def test_prometheus_parsing_and_sums():
    values = benchlib.parse_prometheus(METRICS)
    assert benchlib.metric_sum(values, "vllm:generation_tokens_total") == 1234.0
    assert benchlib.metric_sum(values, "vllm:request_success_total") == 47.0
    assert benchlib.metric_sum(values, "vllm:request_success") == 0.0  # a prefix is not a name


def test_server_counters_leave_out_aborted_requests(monkeypatch):
    class Resp:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def read(self):
            return METRICS.encode()

    monkeypatch.setattr(benchlib.urllib.request, "urlopen", lambda url, timeout: Resp())
    counters = benchlib.server_counters("http://127.0.0.1:9")
    assert counters == {"generation_tokens": 1234.0, "requests": 42.0, "running": 7.0}


def test_only_loopback_urls_are_fetched():
    with pytest.raises(ValueError, match="loopback"):
        benchlib.get_json("http://10.0.0.1:8000/sim/requests")


@pytest.mark.parametrize("n", [1, 2, 3, 10, 99, 100, 101])
def test_percentile_matches_the_harness_definition(n):
    values = [float((i * 37) % n) for i in range(n)]
    for p in (50, 90, 95, 99, 100):
        assert benchlib.percentile(values, p) == stats_percentile(sorted(values), p)


# -- accuracy rule and truth matching ----------------------------------------------
def test_rule_never_below_and_at_most_max_2ms_or_3_percent_above():
    assert accuracy_truth.allowed_error_ms(25.0) == 2.0
    assert accuracy_truth.allowed_error_ms(200.0) == pytest.approx(6.0)
    assert accuracy_truth.within_rule(25.0, 25.0)
    assert accuracy_truth.within_rule(27.0, 25.0)
    assert not accuracy_truth.within_rule(27.01, 25.0)
    assert not accuracy_truth.within_rule(24.999, 25.0)  # below the truth, however little
    assert accuracy_truth.within_rule(206.0, 200.0)
    assert not accuracy_truth.within_rule(206.1, 200.0)


def _record(rid, ttft, gaps):
    return SimpleNamespace(request_id=rid, ttft_ms=ttft, chunk_gaps_ms=tuple(gaps))


def test_truth_samples_use_server_write_times_of_the_same_requests():
    truth = {
        "a": {"received_at": 1000.0, "chunk_times": [1000.2, 1000.225, 1000.250]},
        "b": {"received_at": 2000.0, "chunk_times": [2000.1, 2000.125]},
        "other": {"received_at": 0.0, "chunk_times": [5.0, 9.0]},
    }
    records = [_record("a", 201.0, [25.5, 24.5]), _record("b", 100.5, [25.0, 1.0]), _record("gone", 5.0, [])]
    out = accuracy_truth.truth_samples(records, truth)
    assert out.matched == 2
    assert out.missing == ["gone"]
    assert out.ttft_ms == pytest.approx([200.0, 100.0])
    assert out.itl_ms == pytest.approx([25.0, 25.0, 25.0])
    assert out.gap_count_mismatch == 1  # "b": 2 client gaps, 1 server gap
    assert out.ttft_errors_ms == pytest.approx([1.0, 0.5])
    assert out.itl_errors_ms == pytest.approx([0.5, -0.5])


def test_compare_builds_p50_and_p95_rows_with_errors():
    truth = accuracy_truth.TruthSamples([200.0] * 19 + [210.0], [25.0] * 100, 20, [], 0, [], [])
    reported = {"ttft_ms": {"p50": 201.0, "p95": 200.5}, "itl_ms": {"p50": 24.9, "p95": 25.0}}
    rows = {(r.metric, r.p): r for r in accuracy_truth.compare(reported, truth)}
    assert rows[("ttft", 50)].true_ms == 200.0 and rows[("ttft", 50)].passed
    assert rows[("ttft", 95)].true_ms == 200.0 and rows[("ttft", 95)].error_ms == pytest.approx(0.5)
    assert not rows[("itl", 50)].passed and rows[("itl", 50)].error_pct == pytest.approx(-0.4)
    assert rows[("itl", 95)].passed
    with pytest.raises(RuntimeError):
        accuracy_truth.compare({"ttft_ms": {"p50": None, "p95": None}, "itl_ms": {}}, truth)


def test_the_truth_is_an_interval_as_wide_as_the_server_write_calls():
    truth = {"a": {"received_at": 1000.0, "chunk_times": [1000.2, 1000.225, 1000.250],
                   "chunk_started": [1000.1999, 1000.2249, 1000.2498]}}
    out = accuracy_truth.truth_samples([_record("a", 200.0, [25.0, 25.0])], truth)
    assert out.ttft_lo_ms == pytest.approx([199.9])
    assert out.itl_lo_ms == pytest.approx([24.9, 24.8])  # next write's start - previous write's end
    assert out.write_us == pytest.approx([100.0, 100.0, 200.0])
    rows = {(r.metric, r.p): r for r in accuracy_truth.compare(
        {"ttft_ms": {"p50": 200.0, "p95": 200.0}, "itl_ms": {"p50": 24.95, "p95": 25.0}}, out)}
    itl = rows[("itl", 50)]
    assert (itl.true_ms, itl.true_lo_ms) == (pytest.approx(25.0), pytest.approx(24.8))
    assert itl.passed and not itl.strict_passed  # under the completion stamp, within the write call
    assert itl.to_dict()["strict_passed"] is False


def test_a_value_below_the_whole_interval_fails_and_above_is_judged_on_the_completion_stamp():
    assert not accuracy_truth.within_rule(24.79, 25.0, 24.8)
    assert accuracy_truth.within_rule(24.8, 25.0, 24.8)
    assert accuracy_truth.within_rule(27.0, 25.0, 24.8) and not accuracy_truth.within_rule(27.01, 25.0, 24.8)


def test_without_start_stamps_on_every_record_there_is_no_interval():
    truth = {"a": {"received_at": 0.0, "chunk_times": [0.1, 0.12], "chunk_started": [0.09, 0.11]},
             "b": {"received_at": 0.0, "chunk_times": [0.1, 0.12]}}
    out = accuracy_truth.truth_samples([_record("a", 100.0, [20.0]), _record("b", 100.0, [20.0])], truth)
    assert out.ttft_lo_ms is None and out.itl_lo_ms is None and out.write_us is None
    rows = accuracy_truth.compare({"ttft_ms": {"p50": 100.0, "p95": 100.0}, "itl_ms": {"p50": 20.0, "p95": 20.0}},
                                  out)
    assert all(r.true_lo_ms is None and r.passed == r.strict_passed for r in rows)


# -- capacity helpers ----------------------------------------------------------------
def test_workload_shape_mirrors_the_completions_workload():
    shape = client_capacity.workload_shape("completions")
    spec = yaml.safe_load((ROOT / "loadtests" / "workloads.yaml").read_text())["workloads"]["completions"]
    assert shape["prompt_mean"] == spec["input_tokens"]["mean"]
    assert shape["prompt_stddev"] == spec["input_tokens"]["stddev"]
    assert shape["output_tokens"] == spec["output_tokens"]["mean"]
    with pytest.raises(ValueError):
        client_capacity.workload_shape("short_chat")  # chat: inference-perf's synthetic data cannot mirror it


def test_fill_replaces_typed_placeholders_and_refuses_unknown_ones():
    template = {"a": "${N}", "b": ["${S}", "plain", 3], "c": {"d": "x${N}"}}
    assert client_capacity.fill(template, {"N": 5, "S": "s"}) == {"a": 5, "b": ["s", "plain", 3], "c": {"d": "x${N}"}}
    assert client_capacity.placeholders(template) == {"N", "S"}
    with pytest.raises(KeyError):
        client_capacity.fill(template, {"N": 1})


@pytest.mark.parametrize("tool", ["guidellm", "inference-perf"])
def test_peer_templates_get_every_value_they_need(tool, tmp_path):
    args = SimpleNamespace(workload="completions", processes=1, ttft_ms=20.0, itl_ms=10.0)
    shape = client_capacity.workload_shape("completions")
    argv, paths = client_capacity.command(tool, url="http://127.0.0.1:1", model="m", concurrency=64,
                                          duration_s=75.0, shape=shape, args=args, workdir=tmp_path)
    if tool == "guidellm":
        doc = json.loads((tmp_path / "guidellm-scenario.json").read_text())
        spec = doc["spec"]
        assert spec["profile"] == {"kind": "concurrent", "streams": 64}
        assert spec["backend"]["request_format"] == "/v1/completions" and spec["backend"]["stream"] is True
        assert spec["data"][0]["prompt_tokens"] == shape["prompt_mean"]
        assert spec["data"][0]["output_tokens"] == shape["output_tokens"]
        assert spec["constraints"] == [{"kind": "max_duration", "seconds": 75.0}]
    else:
        doc = yaml.safe_load((tmp_path / "inference-perf.yaml").read_text())
        stage = doc["load"]["stages"][0]
        assert stage["concurrency_level"] == 64 and stage["num_requests"] > 64 * 75 / 0.66
        assert doc["api"] == {"type": "completion", "streaming": True}
        assert doc["data"]["input_distribution"]["mean"] == shape["prompt_mean"]
        assert doc["data"]["output_distribution"]["min"] == shape["output_tokens"]
    assert "${" not in json.dumps(doc)


def test_our_command_is_the_gpufleet_loadtest_cli(tmp_path):
    args = SimpleNamespace(workload="completions", processes=1, ttft_ms=20.0, itl_ms=10.0)
    shape = client_capacity.workload_shape("completions")
    argv, paths = client_capacity.command("gpufleet", url="http://127.0.0.1:1", model="m", concurrency=64,
                                          duration_s=75.0, shape=shape, args=args, workdir=tmp_path)
    assert argv[1:5] == ["-m", "gpufleet.cli", "loadtest", "--host"]
    assert argv[argv.index("--users") + 1] == "64" and argv[argv.index("--workload") + 1] == "completions"


def test_expected_requests_for_a_closed_loop():
    # 64 streams, 20 ms + 63 x 10 ms = 0.65 s per request -> 98.5 req/s -> 5908 in 60 s
    assert client_capacity.expected_requests(64, 60.0, 20.0, 10.0, 64, margin=1.0) == math.ceil(64 * 60 / 0.65)


def test_ratio_to_the_better_peer_and_medians():
    results = {"gpufleet": {"tokens_per_s_per_core": 30000.0}, "guidellm": {"tokens_per_s_per_core": 4000.0},
               "inference-perf": {"tokens_per_s_per_core": 12000.0}}
    ratio, best = client_capacity.ratio_to_best_peer(results, "tokens_per_s_per_core")
    assert best == "inference-perf" and ratio == pytest.approx(2.5)
    assert client_capacity.ratio_to_best_peer({"gpufleet": {"tokens_per_s_per_core": 1.0}},
                                              "tokens_per_s_per_core") == (None, None)
    runs = [{"tool": "x", "output_tokens_per_s": v, "client_cores": 1.0} for v in (3.0, 1.0, 2.0)]
    runs.append({"tool": "x", "error": "boom"})
    med = client_capacity.median_result(runs)
    assert med["output_tokens_per_s"] == 2.0 and med["runs"] == 3 and med["failed_runs"] == 1
    assert client_capacity.median_result([{"tool": "y", "error": "no binary"}]) == {"tool": "y", "error": "no binary"}


def test_per_core_needs_cpu_time():
    assert client_capacity.per_core(100.0, 0.5) == 200.0
    assert client_capacity.per_core(100.0, 0.0) is None


# -- offline tokenizer ----------------------------------------------------------------
def test_tokenizer_pattern_is_the_simulators_rule():
    python_pattern = re.compile(make_tokenizer.PATTERN.replace(r"\z", r"\Z"))
    for text in ("Hello, world!  The cluster served 123456789 tokens.\n", "你好，世界。 GPU集群", " x", "a\n\nb "):
        assert python_pattern.findall(text) == tokenize(text)


def test_vocabulary_covers_output_vocab_prompts_and_prefixed_words():
    vocab = make_tokenizer.build_vocab(make_tokenizer.repo_texts(), ["according", "shake"], numbers=20)
    assert vocab[: len(make_tokenizer.SPECIAL_TOKENS)] == list(make_tokenizer.SPECIAL_TOKENS)
    assert len(vocab) == len(set(vocab))
    pieces = set(vocab)
    assert set(OUTPUT_VOCAB) <= pieces
    for piece in (" shake", "\nshake", "\n\nShake", "accordin", " accordin", "g", " 19", "19"):
        assert piece in pieces
    for path in sorted((ROOT / "loadtests" / "prompts").glob("*.txt")):
        for token in tokenize(" ".join(path.read_text(encoding="utf-8").split())):
            assert token in pieces


def test_corpus_is_english_prompt_text():
    corpus = make_tokenizer.corpus_text()
    assert count_tokens(corpus) > 1000
    assert corpus.endswith("\n")


def test_built_tokenizer_counts_like_the_simulator(tmp_path):
    pytest.importorskip("tokenizers")
    pytest.importorskip("transformers")
    summary = make_tokenizer.write_tokenizer(tmp_path / "tok")
    assert summary["vocab_size"] > 1000
    samples = ["".join(OUTPUT_VOCAB[:300]), "An unknown zzqxj word, then the model.\n"]
    assert make_tokenizer.check(tmp_path / "tok", samples) == []
