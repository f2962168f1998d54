"""Benchmark: load-generator capacity per CPU core, ours vs a raw asyncio client, GuideLLM, inference-perf.

Each tool drives the same local vLLM simulator (fresh per run, fixed
jitter-free TTFT and a short ITL, max_num_seqs above the concurrency, so the
server is never the limit) with the same load: a closed loop of N concurrent
streamed /v1/completions requests shaped like gpufleet's ``completions``
workload (prompt and output lengths are read from loadtests/workloads.yaml
and given to the peers as their own synthetic-data settings), for the same
duration.

What is measured, identically for every tool, over a steady-state window
(after the server has seen the tool reach the concurrency, plus a settle
time):

* throughput from the server's side: generated tokens and completed
  requests (the simulator's vLLM counters on /metrics) per second;
* client CPU: user + system seconds of the tool's whole process tree
  (every worker process included) from /proc, divided by the window;
* per core = throughput / client cores used;
* server CPU the same way, to show it is not saturated.

Tools: ``raw`` is ``bench/raw_client.py``, a minimal asyncio raw-socket
client (the "near the limit" baseline); ``gpufleet`` is the real ``gpufleet
loadtest`` command (Locust, one process); ``guidellm`` and ``inference-perf``
run from their own virtual environments made by ``bench/peers/setup.sh``,
with the offline tokenizer it builds (``bench/peers/.cache/tokenizer``),
each with its default worker processes. The simulator (and this script) run
pinned to CPU 0, every client to CPU 1 (``taskset``). Rounds are
interleaved (A B C A B C ...), the load average is recorded with every run,
and the table shows the median per tool. With one SSE chunk per token (the
simulator's default), CPU per chunk = client cores / tokens per second.

    .venv/bin/python bench/client_capacity.py --tools raw gpufleet                 # paced: 256 streams, ITL 20 ms
    .venv/bin/python bench/client_capacity.py --tools raw gpufleet --ttft-ms 0 --itl-ms 0 --concurrency 64
    bash bench/peers/setup.sh && .venv/bin/python bench/client_capacity.py          # all four tools

Each run takes startup allowance (up to 40 s) + settle + window; the
default 3 rounds of 2 tools take about 4-5 minutes.

Exit status: 0 if ours meets the raw baseline targets (CPU per chunk <= --max-cpu-ratio x raw,
tokens/s per core >= --min-throughput-ratio x raw) and, when a peer ran, is at least --target x the better
peer per core; 1 if not; 2 if neither the baseline nor a peer ran.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from benchlib import CpuSampler, process_cpu, server_counters, tree_cpu, window_cpu_share
from pinning import client_prefix, describe, pin_current_process

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "bench" / "peers"
TOKENIZER_DIR = PEERS / ".cache" / "tokenizer"
GUIDELLM_BIN = ROOT / ".venv-guidellm" / "bin" / "guidellm"
INFERENCE_PERF_BIN = ROOT / ".venv-inference-perf" / "bin" / "inference-perf"
TOOLS = ("raw", "gpufleet", "guidellm", "inference-perf")
BASELINE = "raw"
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
               "HF_HUB_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1", "TOKENIZERS_PARALLELISM": "false"}


# -- pure helpers ----------------------------------------------------------------
def workload_shape(name: str, path: Path = ROOT / "loadtests" / "workloads.yaml") -> dict[str, Any]:
    """Prompt (normal: mean, stddev, min, max) and output (constant) lengths of a workload."""
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))["workloads"][name]
    inp, out = spec["input_tokens"], spec["output_tokens"]
    if spec.get("endpoint") != "completions" or not spec.get("stream", True):
        raise ValueError(f"workload {name!r} must be a streamed completions workload (inference-perf's synthetic "
                         "data only drives /v1/completions)")
    if inp["dist"] != "normal" or out["dist"] != "constant":
        raise ValueError(f"workload {name!r}: need a normal input and a constant output length to mirror it")
    return {"prompt_mean": int(inp["mean"]), "prompt_stddev": int(inp["stddev"]), "prompt_min": int(inp["min"]),
            "prompt_max": int(inp["max"]), "output_tokens": int(min(out["mean"], out["max"]))}


def fill(template: Any, values: dict[str, Any]) -> Any:
    """Replace every string that is exactly "${NAME}" with values[NAME] (keeping its type)."""
    if isinstance(template, dict):
        return {k: fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, values) for v in template]
    if isinstance(template, str) and template.startswith("${") and template.endswith("}"):
        key = template[2:-1]
        if key not in values:
            raise KeyError(f"template placeholder {template} has no value")
        return values[key]
    return copy.deepcopy(template)


def placeholders(template: Any) -> set[str]:
    """Names of every "${NAME}" placeholder in a template."""
    if isinstance(template, dict):
        return set().union(*(placeholders(v) for v in template.values())) if template else set()
    if isinstance(template, list):
        return set().union(*(placeholders(v) for v in template)) if template else set()
    if isinstance(template, str) and template.startswith("${") and template.endswith("}"):
        return {template[2:-1]}
    return set()


def expected_requests(concurrency: int, duration_s: float, ttft_ms: float, itl_ms: float, output_tokens: int,
                      margin: float = 1.5) -> int:
    """Requests a closed loop sends in ``duration_s`` (for inference-perf, which stops by count)."""
    per_request_s = (ttft_ms + itl_ms * max(output_tokens - 1, 0)) / 1000.0
    return math.ceil(concurrency * duration_s / max(per_request_s, 1e-3) * margin)


def per_core(rate: float, cores: float) -> float | None:
    return rate / cores if cores > 0 else None


def ratio_to_baseline(results: dict[str, dict[str, Any]], key: str) -> float | None:
    """ours / the raw baseline for one figure; None when a side is missing."""
    ours = (results.get("gpufleet") or {}).get(key)
    base = (results.get(BASELINE) or {}).get(key)
    return ours / base if ours and base else None


def ratio_to_best_peer(results: dict[str, dict[str, Any]], key: str) -> tuple[float | None, str | None]:
    """(ours / best peer, best peer's name) for a per-core figure; None when a side is missing."""
    ours = (results.get("gpufleet") or {}).get(key)
    peers = {t: r.get(key) for t, r in results.items() if t not in ("gpufleet", BASELINE) and r.get(key)}
    if not ours or not peers:
        return None, None
    best = max(peers, key=lambda t: peers[t])
    return ours / peers[best], best


# -- own reports (informative: each tool's own throughput figure) ---------------
def own_figures(tool: str, paths: dict[str, Path]) -> dict[str, float | None]:
    try:
        if tool == "gpufleet":
            doc = json.loads(paths["report"].read_text())
            return {"output_tokens_per_s": doc.get("output_tokens_per_s"), "requests_per_s": doc.get("requests_per_s")}
        if tool == BASELINE:
            doc = json.loads(paths["report"].read_text())
            seconds = doc["ended_at"] - doc["started_at"]
            return {"output_tokens_per_s": sum(r["output_tokens"] or 0 for r in doc["records"]) / seconds,
                    "requests_per_s": len(doc["records"]) / seconds}
        if tool == "guidellm":
            bench = json.loads(paths["report"].read_text())["benchmarks"][0]
            tokens = bench["metrics"]["output_token_count"]["successful"]["total_sum"]
            return {"output_tokens_per_s": tokens / bench["duration"],
                    "requests_per_s": bench["metrics"]["request_totals"]["successful"] / bench["duration"]}
        if tool == "inference-perf":
            found = sorted(paths["report_dir"].rglob("summary_lifecycle_metrics.json"))
            throughput = json.loads(found[-1].read_text())["successes"]["throughput"]
            return {"output_tokens_per_s": throughput["output_tokens_per_sec"],
                    "requests_per_s": throughput["requests_per_sec"]}
    except (OSError, KeyError, IndexError, ValueError, TypeError, ZeroDivisionError):
        pass
    return {"output_tokens_per_s": None, "requests_per_s": None}


# -- commands ------------------------------------------------------------------
def command(tool: str, *, url: str, model: str, concurrency: int, duration_s: float, shape: dict[str, Any],
            args: argparse.Namespace, workdir: Path) -> tuple[list[str], dict[str, Path]]:
    values = {"TARGET": url, "MODEL": model, "CONCURRENCY": concurrency, "DURATION_S": duration_s,
              "TOKENIZER_DIR": str(TOKENIZER_DIR), "CORPUS_FILE": str(TOKENIZER_DIR / "corpus.txt"),
              "TIMEOUT_S": 120, "PROMPT_MEAN": shape["prompt_mean"], "PROMPT_STDDEV": shape["prompt_stddev"],
              "PROMPT_MIN": shape["prompt_min"], "PROMPT_MAX": shape["prompt_max"],
              "OUTPUT_TOKENS": shape["output_tokens"]}
    if tool == BASELINE:
        argv = [sys.executable, str(ROOT / "bench" / "raw_client.py"), "--url", url, "--model", model,
                "--concurrency", str(concurrency), "--duration", str(duration_s), "--workload", args.workload,
                "--out", str(workdir / "raw.json")]
        return argv, {"report": workdir / "raw.json"}
    if tool == "gpufleet":
        report = workdir / "gpufleet-report.json"
        argv = [sys.executable, "-m", "gpufleet.cli", "loadtest", "--host", url, "--model", model,
                "--users", str(concurrency), "--duration", str(duration_s), "--warmup", "0",
                "--workload", args.workload, "--processes", str(args.processes), "--min-samples", "1",
                "--json", str(report), "--quiet"]
        return argv, {"report": report}
    if tool == "guidellm":
        report = workdir / "guidellm.json"
        values["OUTPUT_JSON"] = str(report)
        template = json.loads((PEERS / "guidellm-scenario.json").read_text())
        scenario = workdir / "guidellm-scenario.json"
        scenario.write_text(json.dumps(fill(template, values), indent=2))
        argv = [str(GUIDELLM_BIN), "run", "--scenario", str(scenario), "--disable-console-interactive"]
        return argv, {"report": report}
    if tool == "inference-perf":
        report_dir = workdir / "inference-perf-reports"
        values["REPORT_DIR"] = str(report_dir)
        values["NUM_REQUESTS"] = expected_requests(concurrency, duration_s, args.ttft_ms, args.itl_ms,
                                                   shape["output_tokens"])
        template = yaml.safe_load((PEERS / "inference-perf.yaml").read_text())
        config = workdir / "inference-perf.yaml"
        config.write_text(yaml.safe_dump(fill(template, values), sort_keys=False))
        argv = [str(INFERENCE_PERF_BIN), "-c", str(config), "--log-level", "WARNING"]
        return argv, {"report_dir": report_dir}
    raise ValueError(f"unknown tool {tool!r}")


def missing_prerequisite(tool: str) -> str | None:
    if tool in ("gpufleet", BASELINE):
        return None
    binary = GUIDELLM_BIN if tool == "guidellm" else INFERENCE_PERF_BIN
    if not binary.exists():
        return f"{binary} not found: run bash bench/peers/setup.sh"
    if not (TOKENIZER_DIR / "tokenizer.json").exists():
        return f"{TOKENIZER_DIR} not built: run bash bench/peers/setup.sh"
    return None


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop the tool (its own process group, which we created) if it is still running."""
    for sig, wait in ((signal.SIGINT, 15), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            continue


# -- one run ---------------------------------------------------------------------
def run_tool(tool: str, args: argparse.Namespace, shape: dict[str, Any], workdir: Path) -> dict[str, Any]:
    from gpufleet.simserver.launch import LocalServer

    result: dict[str, Any] = {"tool": tool}
    problem = missing_prerequisite(tool)
    if problem:
        return {**result, "error": problem}
    conc = args.concurrency
    duration = args.startup_allowance + args.settle + args.window  # the tool's own run length
    run_dir = workdir / f"{tool}-{time.time_ns()}"
    run_dir.mkdir()
    with LocalServer(ttft_ms=args.ttft_ms, itl_ms=args.itl_ms, jitter=0.0, seed=args.seed,
                     max_num_seqs=conc * 2, kv_capacity_tokens=conc * 2 * (shape["prompt_max"] + 512) + 8192,
                     max_model_len=8192, truth_size=1000) as server:
        argv, paths = command(tool, url=server.url, model=server.model, concurrency=conc, duration_s=duration,
                              shape=shape, args=args, workdir=run_dir)
        log = open(run_dir / "tool.log", "wb")
        env = dict(os.environ, PYTHONUNBUFFERED="1", **OFFLINE_ENV)
        launched = time.time()
        load_before = os.getloadavg()[0]
        proc = subprocess.Popen([*client_prefix(), *argv], cwd=run_dir, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        probes = {"client": lambda: tree_cpu(proc.pid), "server": lambda: process_cpu(server.pid)}
        try:
            with CpuSampler(probes, interval=0.5) as sampler:
                ready_at = None
                while time.time() - launched < args.ready_timeout and proc.poll() is None:
                    counters = server_counters(server.url)
                    # at zero delay requests end too fast to be seen running: enough completions also count
                    if counters["running"] >= 0.95 * conc or counters["requests"] >= 2 * conc:
                        ready_at = time.time()
                        break
                    time.sleep(0.25)
                if ready_at is None:
                    raise RuntimeError(f"{tool} never reached {conc} running requests within {args.ready_timeout} s "
                                       f"(exit {proc.poll()}); log tail:\n{_tail(run_dir / 'tool.log')}")
                time.sleep(args.settle)
                t0, c0 = time.time(), server_counters(server.url)
                running = []
                while time.time() - t0 < args.window:
                    time.sleep(1.0)
                    running.append(server_counters(server.url)["running"])
                t1, c1 = time.time(), server_counters(server.url)
                alive = proc.poll() is None
            if not alive:
                raise RuntimeError(f"{tool} ended before the window did (exit {proc.returncode}); log tail:\n"
                                   f"{_tail(run_dir / 'tool.log')}")
            try:
                proc.wait(timeout=max(1.0, duration + 60 - (time.time() - launched)))
            except (subprocess.TimeoutExpired, ValueError):
                pass
        except BaseException as exc:
            _stop_group(proc)
            log.close()
            if isinstance(exc, RuntimeError):
                return {**result, "error": str(exc)}
            raise
        _stop_group(proc)
        log.close()
    window = t1 - t0
    tokens_per_s = (c1["generation_tokens"] - c0["generation_tokens"]) / window
    requests_per_s = (c1["requests"] - c0["requests"]) / window
    client_cores = window_cpu_share(sampler.samples, "client", t0, t1)
    server_cores = window_cpu_share(sampler.samples, "server", t0, t1)
    return {
        **result,
        "startup_s": ready_at - launched,
        "window_s": window,
        "mean_running": statistics.fmean(running) if running else None,
        "output_tokens_per_s": tokens_per_s,
        "requests_per_s": requests_per_s,
        "client_cores": client_cores,
        "server_cores": server_cores,
        "tokens_per_s_per_core": per_core(tokens_per_s, client_cores),
        "requests_per_s_per_core": per_core(requests_per_s, client_cores),
        "us_cpu_per_chunk": 1e6 * client_cores / tokens_per_s if tokens_per_s else None,
        "load_average": [load_before, os.getloadavg()[0]],
        "exit_code": proc.returncode,
        "own": own_figures(tool, paths),
        "argv": argv,
    }


def _tail(path: Path, chars: int = 2500) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def median_result(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of every numeric figure over the successful runs of one tool."""
    good = [r for r in runs if "error" not in r]
    if not good:
        return {"tool": runs[0]["tool"], "error": runs[-1].get("error", "no run")}
    keys = ("output_tokens_per_s", "requests_per_s", "client_cores", "server_cores", "tokens_per_s_per_core",
            "requests_per_s_per_core", "mean_running", "startup_s", "us_cpu_per_chunk")
    out: dict[str, Any] = {"tool": good[0]["tool"], "runs": len(good), "failed_runs": len(runs) - len(good)}
    for key in keys:
        values = [r[key] for r in good if r.get(key) is not None]
        out[key] = statistics.median(values) if values else None
    return out


def print_table(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    header = (f"{'tool':<16}{'out tok/s':>10}{'req/s':>8}{'client cores':>14}{'tok/s per core':>16}"
              f"{'req/s per core':>16}{'us CPU/chunk':>14}{'server cores':>14}{'running':>9}")
    print(header)
    print("-" * len(header))
    for tool in TOOLS:
        r = results.get(tool)
        if r is None:
            continue
        if "error" in r:
            print(f"{tool:<16}  did not run: {r['error'].splitlines()[0]}")
            continue
        print(f"{tool:<16}{r['output_tokens_per_s']:>10.0f}{r['requests_per_s']:>8.1f}{r['client_cores']:>14.3f}"
              f"{r['tokens_per_s_per_core']:>16.0f}{r['requests_per_s_per_core']:>16.1f}{r['us_cpu_per_chunk']:>14.1f}"
              f"{r['server_cores']:>14.3f}"
              f"{r['mean_running']:>9.1f}")
    cpu = ratio_to_baseline(results, "us_cpu_per_chunk")
    tput = ratio_to_baseline(results, "tokens_per_s_per_core")
    if cpu is not None and tput is not None:
        print(f"ratio gpufleet / raw baseline: CPU per chunk {cpu:.2f}x (target <= {args.max_cpu_ratio:.1f}x), "
              f"tokens/s per core {tput:.2f}x (target >= {args.min_throughput_ratio:.1f}x)")
    for key, label in (("tokens_per_s_per_core", "output tokens/s per core"),
                       ("requests_per_s_per_core", "requests/s per core")):
        ratio, best = ratio_to_best_peer(results, key)
        if ratio is not None:
            print(f"ratio ours / best peer ({best}), {label}: {ratio:.2f}x  (target >= {args.target:.1f}x)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS))
    parser.add_argument("--concurrency", type=int, default=256, help="concurrent streams (every tool)")
    parser.add_argument("--workload", default="completions", help="our workload; the peers mirror its lengths")
    parser.add_argument("--ttft-ms", type=float, default=150.0, help="the simulator's fixed TTFT")
    parser.add_argument("--itl-ms", type=float, default=20.0, help="the simulator's fixed ITL (0: as fast as it can)")
    parser.add_argument("--window", type=float, default=30.0, help="measured steady-state seconds")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds after reaching the concurrency")
    parser.add_argument("--startup-allowance", type=float, default=40.0,
                        help="seconds added to every tool's run length for its start-up and ramp")
    parser.add_argument("--ready-timeout", type=float, default=90.0, help="seconds a tool may take to ramp up")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the table shows medians")
    parser.add_argument("--processes", type=int, default=1, help="gpufleet loadtest --processes")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--target", type=float, default=1.5, help="required ratio ours / best peer per core")
    parser.add_argument("--max-cpu-ratio", type=float, default=1.5, help="CPU per chunk: ours / raw at most")
    parser.add_argument("--min-throughput-ratio", type=float, default=0.6, help="tok/s per core: ours / raw at least")
    parser.add_argument("--json", type=Path, help="also write every run and the medians here")
    args = parser.parse_args(argv)
    shape = workload_shape(args.workload)
    pin_current_process()
    print(f"client capacity: {args.concurrency} concurrent streams, /v1/completions, prompt normal("
          f"{shape['prompt_mean']}, {shape['prompt_stddev']}) in [{shape['prompt_min']}, {shape['prompt_max']}] "
          f"tokens, {shape['output_tokens']} output tokens, simulator TTFT {args.ttft_ms} ms ITL {args.itl_ms} ms "
          f"jitter 0; {args.window:.0f} s window; {args.rounds} interleaved round(s); {os.cpu_count()} CPUs, "
          f"{describe()}; load average {os.getloadavg()[0]:.2f}", flush=True)
    runs: dict[str, list[dict[str, Any]]] = {t: [] for t in args.tools}
    with tempfile.TemporaryDirectory(prefix="gpufleet-capacity-") as tmp:
        for round_no in range(1, args.rounds + 1):
            for tool in args.tools:
                result = run_tool(tool, args, shape, Path(tmp))
                result["round"] = round_no
                runs[tool].append(result)
                if "error" in result:
                    print(f"round {round_no} {tool}: ERROR {result['error']}", flush=True)
                else:
                    print(f"round {round_no} {tool}: {result['output_tokens_per_s']:.0f} tok/s, "
                          f"{result['requests_per_s']:.1f} req/s, client {result['client_cores']:.3f} cores -> "
                          f"{result['tokens_per_s_per_core']:.0f} tok/s/core; server {result['server_cores']:.3f} "
                          f"cores; running {result['mean_running']:.1f}; {result['us_cpu_per_chunk']:.1f} us CPU/chunk; "
                          f"load average {result['load_average'][0]:.2f}; tool's own report: "
                          f"{result['own']['output_tokens_per_s']} tok/s", flush=True)
    results = {tool: median_result(tool_runs) for tool, tool_runs in runs.items()}
    print()
    print_table(results, args)
    ratio, best = ratio_to_best_peer(results, "tokens_per_s_per_core")
    cpu = ratio_to_baseline(results, "us_cpu_per_chunk")
    tput = ratio_to_baseline(results, "tokens_per_s_per_core")
    if args.json:
        doc = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "host": platform.node(),
               "cpus": os.cpu_count(), "pinning": describe(), "argv": sys.argv,
               "settings": vars(args) | {"json": str(args.json)}, "workload": shape, "runs": runs,
               "medians": results, "ratio_tokens_per_core": ratio, "best_peer": best,
               "ratio_to_raw": {"cpu_per_chunk": cpu, "tokens_per_s_per_core": tput}}
        args.json.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    if ratio is None and cpu is None:
        return 2
    ok = ratio is None or ratio >= args.target
    if cpu is not None and tput is not None:
        ok = ok and cpu <= args.max_cpu_ratio and tput >= args.min_throughput_ratio
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
