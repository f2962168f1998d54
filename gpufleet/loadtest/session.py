"""One gated load test, start to finish: plan, run Locust, compute, judge, report.

`run_gate` is the entry point for `gpufleet loadtest` and `gpufleet promote`.
Bad arguments (a remote target without `allow_remote`, an invalid load
override) raise before any traffic is sent; everything that goes wrong
after that (Locust crashes, a worker never reports, unreadable results)
comes back as a report whose verdict is `invalid`, never as a pass.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from gpufleet.loadtest.gate import evaluate
from gpufleet.loadtest.rawrun import RawRun
from gpufleet.loadtest.report import LoadTestReport
from gpufleet.loadtest.preflight import preflight
from gpufleet.loadtest.runner import API_KEY_ENV, LoadPlan, check_workload, run_locust, workload_kind
from gpufleet.core.slo import SloSpec, with_load
from gpufleet.loadtest.stats import compute
from gpufleet.loadtest.target import check_target
from gpufleet.loadtest.usage import cross_check


def judge_run(run: RawRun | None, slo: SloSpec, *, target: str, model: str = "", processes: int = 1,
              harness_error: str | None = None) -> LoadTestReport:
    """Statistics and verdict of a raw run (also used to re-judge a saved run)."""
    stats = None
    if run is not None:
        # Implausible usage becomes `usage_mismatch` in the saved run and the CSV too, not only in statistics.
        run = replace(run, records=tuple(cross_check(run.records)))
        if not run.complete and not harness_error:
            harness_error = run.incomplete_reason or "the run did not complete"
        try:
            stats = compute(run, goodput_ttft_ms=slo.goodput_ttft_ms, goodput_tpot_ms=slo.goodput_tpot_ms)
        except Exception as exc:  # fail closed
            harness_error = harness_error or f"statistics failed: {exc!r}"
    elif not harness_error:
        harness_error = "no run was produced"
    return LoadTestReport(
        target=target,
        model=(run.model if run is not None and run.model else model),
        workload=slo.workload,
        slo=slo,
        processes=processes,
        gate=evaluate(stats, slo, harness_error=harness_error),
        stats=stats,
        run=run,
        harness_error=harness_error,
    )


def run_gate(
    target_url: str,
    model: str | None,
    slo: SloSpec,
    *,
    users: int | None = None,
    rate: float | None = None,
    duration_s: float | None = None,
    warmup_s: float | None = None,
    workload: str | None = None,
    processes: int = 1,
    allow_remote: bool = False,
    timeout_s: float = 120.0,
    stall_timeout_s: float = 30.0,
    api_key: str | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    check: bool = True,
) -> LoadTestReport:
    """Load-test `target_url` at the SLO's load (or the given override) and judge it.

    `model=None` uses the first model /v1/models lists. Raises TargetError or
    ValueError (pydantic ValidationError) for bad arguments, and (`check`)
    TargetUnavailable within seconds when the target is dead, does not serve
    the model or does not stream with usage; otherwise always returns a
    report, `invalid` on harness errors.
    """
    target = check_target(target_url, allow_remote=allow_remote)
    effective = with_load(slo, users=users, rate=rate, duration_s=duration_s, warmup_s=warmup_s,
                          workload=workload)
    check_workload(effective.workload)
    if check:
        kind = workload_kind(effective.workload)
        key = api_key or os.environ.get(API_KEY_ENV) or None
        if kind is not None and kind[1]:
            model = preflight(target, model, kind[0], api_key=key)
    plan = LoadPlan(
        target=target,
        workload=effective.workload,
        duration_s=effective.duration_s,
        warmup_s=effective.warmup_s,
        users=effective.target_users,
        rate=effective.target_rate,
        model=model or "",
        processes=processes,
        max_in_flight=effective.max_in_flight,
        seed=effective.seed,
        timeout_s=timeout_s,
        stall_timeout_s=stall_timeout_s,
    )
    try:
        run = run_locust(plan, on_progress=on_progress, api_key=api_key)
    except Exception as exc:  # HarnessError and anything unexpected: invalid, never pass
        return judge_run(None, effective, target=target, model=model or "", processes=plan.effective_processes,
                         harness_error=str(exc))
    return judge_run(run, effective, target=target, model=model or "", processes=plan.effective_processes)
