"""The SLO gate: turns one run's statistics into pass, fail or invalid.

`invalid` means the measurement cannot be trusted either way (too few
samples, the client could not keep up, the schedule was not kept, the harness
broke); `fail` means a trustworthy measurement missed an objective. Only
`pass` may ever allow traffic to move, so every doubtful path (an exception,
a missing value, NaN) ends in `invalid` or `fail`, never in `pass`.

One exception to "invalid beats fail": when the server itself answered almost
every request with a failure, quickly (`server_failing`), a client that could
not keep up was kept busy by those failures, and the run is `fail`.

`evaluate` is pure; `run_gate` runs a load test and evaluates it, for
`gpufleet loadtest` and `gpufleet promote`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gpufleet.core.slo import SloSpec
from gpufleet.loadtest.stats import FAST_FAILURE_MS, RunStats

# "Almost every request failed quickly": more than this share of at least this many requests.
SERVER_FAILING_SHARE = 0.9
SERVER_FAILING_MIN_REQUESTS = 20


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INVALID = "invalid"


VALIDITY = "validity"  # a failed check of this kind makes the run invalid
OBJECTIVE = "slo"  # a failed check of this kind makes a valid run fail


@dataclass(frozen=True)
class Check:
    """One comparison; `observed` is None when the value could not be measured."""

    name: str
    kind: str  # VALIDITY or OBJECTIVE
    op: str  # "<=", ">=" or "=="
    threshold: float | int | str | None
    observed: float | int | str | None
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "op": self.op,
            "threshold": self.threshold,
            "observed": _json_number(self.observed),
            "passed": self.passed,
        }


@dataclass(frozen=True)
class GateResult:
    verdict: Verdict
    checks: tuple[Check, ...]
    reason: str

    @property
    def allows_traffic(self) -> bool:
        return self.verdict is Verdict.PASS

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "reason": self.reason,
            "checks": [c.to_dict() for c in self.checks],
        }


def _json_number(value: Any) -> Any:
    """NaN/inf are not JSON; report them as their string form (the check already failed)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def at_most(name: str, kind: str, observed: Any, threshold: float) -> Check:
    return Check(name, kind, "<=", threshold, observed, _finite(observed) and observed <= threshold)


def at_least(name: str, kind: str, observed: Any, threshold: float) -> Check:
    return Check(name, kind, ">=", threshold, observed, _finite(observed) and observed >= threshold)


def validity_checks(stats: RunStats, slo: SloSpec) -> list[Check]:
    checks = [
        at_least("samples", VALIDITY, stats.requests, slo.min_samples),
        at_most("cancelled_requests", VALIDITY, stats.cancelled, 0),
        at_most("client_cpu", VALIDITY, stats.client.cpu_max, slo.max_client_cpu),
        at_most("client_loop_lag_p99_ms", VALIDITY, stats.client.loop_lag_p99_ms, slo.max_loop_lag_p99_ms),
    ]
    if slo.target_rate is not None:
        scheduled = stats.scheduled_rate
        ratio = stats.achieved_rate / scheduled if _finite(scheduled) and scheduled > 0 else None
        checks += [
            at_most("schedule_delay_p99_ms", VALIDITY, stats.schedule_delay_ms.p99, slo.max_schedule_delay_p99_ms),
            at_least("achieved_rate_ratio", VALIDITY, ratio, slo.min_achieved_rate_ratio),
        ]
    else:
        users = stats.client.users
        checks.append(Check("users_started", VALIDITY, "==", slo.target_users, users, users == slo.target_users))
    return checks


def objective_checks(stats: RunStats, slo: SloSpec) -> list[Check]:
    checks = [
        at_most("error_rate", OBJECTIVE, stats.error_rate, slo.max_error_rate),
        at_most("ttft_p95_ms", OBJECTIVE, stats.ttft_ms.p95, slo.ttft_p95_ms),
    ]
    for name, observed, threshold in (
        ("tpot_p95_ms", stats.tpot_ms.p95, slo.tpot_p95_ms),
        ("itl_p95_ms", stats.itl_ms.p95, slo.itl_p95_ms),
        ("itl_p99_ms", stats.itl_ms.p99, slo.itl_p99_ms),
        ("max_stall_ms", stats.stall_ms.max, slo.max_stall_ms),  # the longest freeze of any request
        ("e2e_p95_ms", stats.e2e_ms.p95, slo.e2e_p95_ms),
    ):
        if threshold is not None:
            if name == "max_stall_ms" and observed is None and stats.ok:
                observed = 0.0  # every successful request came in one chunk: nothing stalled
            checks.append(at_most(name, OBJECTIVE, observed, threshold))
    # A server whose usage cannot be true (gpufleet.loadtest.usage) fails however fast it is.
    checks.append(at_most("usage_mismatch", OBJECTIVE, stats.failures.get("usage_mismatch", 0), 0))
    checks.append(at_least("goodput", OBJECTIVE, stats.goodput.share, slo.min_goodput))
    if slo.min_output_tokens_per_s is not None:
        checks.append(
            at_least("output_tokens_per_s", OBJECTIVE, stats.output_tokens_per_s, slo.min_output_tokens_per_s)
        )
    return checks


def harness_failure(message: str) -> GateResult:
    """The verdict when no trustworthy statistics exist at all."""
    check = Check("harness", VALIDITY, "==", "ok", message, False)
    return GateResult(Verdict.INVALID, (check,), f"harness error: {message}")


def verdict_of(checks: list[Check] | tuple[Check, ...]) -> tuple[Verdict, str]:
    if not checks:
        return Verdict.INVALID, "no checks were evaluated"
    bad_validity = [c.name for c in checks if c.kind == VALIDITY and not c.passed]
    if bad_validity:
        return Verdict.INVALID, "measurement not valid: " + ", ".join(bad_validity)
    bad_objective = [c.name for c in checks if c.kind != VALIDITY and not c.passed]
    if bad_objective:
        return Verdict.FAIL, "objectives missed: " + ", ".join(bad_objective)
    if not all(c.passed is True for c in checks):
        return Verdict.INVALID, "a check did not report a result"
    return Verdict.PASS, "all objectives met under a valid measurement"


def server_failing(stats: RunStats) -> Check:
    """Did the server answer almost every request with a failure, fast? (An objective: passes when not.)"""
    share = stats.fast_server_failures / stats.requests if stats.requests else None
    failing = share is not None and stats.requests >= SERVER_FAILING_MIN_REQUESTS and share > SERVER_FAILING_SHARE
    return Check("server_fast_failure_share", OBJECTIVE, "<=", SERVER_FAILING_SHARE, share, not failing)


def _server_failure_reason(stats: RunStats, check: Check, checks: list[Check]) -> str:
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(stats.failures.items(), key=lambda kv: -kv[1]))
    client = [c.name for c in checks if c.kind == VALIDITY and not c.passed]
    caused = f"; the client limits it missed ({', '.join(client)}) were caused by them" if client else ""
    return (f"the server failed almost every request: {stats.fast_server_failures} of {stats.requests} answered "
            f"with a failure within {FAST_FAILURE_MS:g} ms ({kinds}){caused}")


def evaluate(stats: RunStats | None, slo: SloSpec, *, harness_error: str | None = None) -> GateResult:
    """Judge one run. Never raises; any internal error yields `invalid`."""
    try:
        if harness_error:
            return harness_failure(harness_error)
        if stats is None:
            return harness_failure("no statistics were produced")
        checks = validity_checks(stats, slo) + objective_checks(stats, slo)
        failing = server_failing(stats)
        if not failing.passed:  # the server's own failures explain everything else, client load included
            checks.append(failing)
            return GateResult(Verdict.FAIL, tuple(checks), _server_failure_reason(stats, failing, checks))
        verdict, reason = verdict_of(checks)
        return GateResult(verdict, tuple(checks), reason)
    except Exception as exc:  # fail closed: a bug in judging must never read as a pass
        return harness_failure(f"gate evaluation raised {exc!r}")
