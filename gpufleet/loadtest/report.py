"""The outcome of one load test: what was run, the exact statistics, the verdict.

`LoadTestReport.to_dict()` is the `--json` document (schema in
`report.schema.json`, field meanings in docs/loadtest.md). The raw records
stay attached for the CSV and HTML writers but are not part of the JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gpufleet.loadtest.gate import GateResult, Verdict
from gpufleet.loadtest.rawrun import RawRun
from gpufleet.core.slo import SloSpec
from gpufleet.loadtest.stats import Distribution, RunStats

SCHEMA_ID = "gpufleet.loadtest.report/v1"
EMPTY = Distribution(count=0)


@dataclass(frozen=True)
class LoadTestReport:
    target: str
    model: str
    workload: str
    slo: SloSpec  # the effective SLO, load overrides applied
    processes: int
    gate: GateResult
    stats: RunStats | None = None
    run: RawRun | None = None
    harness_error: str | None = None

    @property
    def verdict(self) -> str:
        return self.gate.verdict.value

    @property
    def trustworthy(self) -> bool:
        """Latency percentiles of an invalid measurement (a client that could not keep up, too few
        samples, a harness error) must not be quoted; every output says so next to them."""
        return self.gate.verdict is not Verdict.INVALID

    @property
    def trust_note(self) -> str | None:
        if self.trustworthy:
            return None
        return f"UNTRUSTWORTHY percentiles: the measurement is invalid ({self.gate.reason})"

    def to_dict(self) -> dict[str, Any]:
        stats = self.stats
        slo = self.slo
        started = None
        if self.run is not None:
            started = datetime.fromtimestamp(self.run.started_at, UTC).isoformat(timespec="milliseconds")

        def dist(name: str) -> dict[str, float | None]:
            return (getattr(stats, name) if stats is not None else EMPTY).to_dict()

        def value(name: str) -> Any:
            return getattr(stats, name) if stats is not None else None

        return {
            "schema": SCHEMA_ID,
            "target": self.target,
            "model": self.model,
            "workload": self.workload,
            "run_id": self.run.run_id if self.run is not None else None,
            "started_at": started,
            "profile": {
                "mode": slo.mode,
                "users": slo.target_users,
                "rate": slo.target_rate,
                "max_in_flight": slo.max_in_flight if slo.mode == "open" else None,
                "processes": self.processes,
                "seed": slo.seed,
            },
            "duration_s": slo.duration_s,
            "warmup_s": slo.warmup_s,
            "requests": value("requests"),
            "ok": value("ok"),
            "errors": value("errors"),
            "error_rate": stats.error_rate if stats is not None else None,
            "cancelled": value("cancelled"),
            "failures": dict(stats.failures) if stats is not None else {},
            "ttft_ms": dist("ttft_ms"),
            "itl_ms": dist("itl_ms"),
            "tpot_ms": dist("tpot_ms"),
            "e2e_ms": dist("e2e_ms"),
            "stall_ms": {**dist("stall_ms"), "max": value("stall_ms").max if stats is not None else None},
            "samples": {
                name: (getattr(stats, f"{name}_ms").count if stats is not None else 0)
                for name in ("ttft", "itl", "tpot", "e2e")
            },
            "prompt_tokens": value("prompt_tokens"),
            "output_tokens": value("output_tokens"),
            "output_tokens_per_s": value("output_tokens_per_s"),
            "requests_per_s": value("requests_per_s"),
            "goodput": stats.goodput.to_dict() if stats is not None else None,
            "schedule_delay_ms": dist("schedule_delay_ms"),
            "scheduled_rate": value("scheduled_rate"),
            "achieved_rate": value("achieved_rate"),
            "client": stats.client.to_dict() if stats is not None else None,
            "slo": slo.model_dump(by_alias=True, mode="json"),
            "gate": self.gate.to_dict(),
            "harness_error": self.harness_error,
            "percentiles_trustworthy": self.trustworthy,
            "trust_note": self.trust_note,
        }


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def summary_lines(report: LoadTestReport) -> list[str]:
    """A short plain-text summary for the terminal."""
    lines = [f"target {report.target}  model {report.model or '?'}  workload {report.workload}"]
    stats = report.stats
    if stats is not None and not report.trustworthy:
        lines.append(f"!! {report.trust_note}")
    if stats is not None:
        lines.append(
            f"requests {stats.requests}  ok {stats.ok}  errors {stats.errors}  "
            f"error rate {_fmt(stats.error_rate and stats.error_rate * 100, 2)}%  "
            f"goodput {_fmt(stats.goodput.share and stats.goodput.share * 100, 1)}%"
        )
        mark = "" if report.trustworthy else " (untrustworthy)"
        for label, dist in (("TTFT", stats.ttft_ms), ("ITL", stats.itl_ms), ("TPOT", stats.tpot_ms),
                            ("E2E", stats.e2e_ms), ("STALL", stats.stall_ms)):
            lines.append(f"{label:<5} ms{mark}  p50 {_fmt(dist.p50):>8}  p90 {_fmt(dist.p90):>8}  "
                         f"p95 {_fmt(dist.p95):>8}  p99 {_fmt(dist.p99):>8}  mean {_fmt(dist.mean):>8}")
        lines.append(f"output tokens/s {_fmt(stats.output_tokens_per_s)}  requests/s {_fmt(stats.requests_per_s, 2)}")
    for check in report.gate.checks:
        mark = "ok  " if check.passed else "MISS"
        observed = check.observed if not isinstance(check.observed, float) else round(check.observed, 3)
        lines.append(f"  [{mark}] {check.name} {check.op} {check.threshold} (observed {observed})")
    lines.append(f"verdict: {report.verdict.upper()} - {report.gate.reason}")
    return lines
