"""Canary analysis of live traffic: one iteration judges the candidate against the SLO and the baseline.

Every iteration queries Prometheus for the candidate release and the baseline
(the release losing traffic) over the same window, then:

* `invalid`: no request reached the candidate (the weight has not taken effect);
  never a pass;
* `inconclusive`: Prometheus failed, the candidate served fewer than
  `minRequests`, a metric has no data, or there is no baseline to compare with;
* `fail`: a value is above its bound, the lower of the absolute bound
  (`gpufleet:slo`, or `gpufleet:promotion` for queue and KV cache) and the
  relative bound `max(baseline x ratio, baseline + slack)`;
* `pass`: every check has data and is within its bounds.

The baseline's last valid value of each metric is remembered, so a step that
leaves the baseline without traffic (the 100% step) is compared with the
baseline as it was measured before. `steps.StepAnalysis` runs the iterations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gpufleet.core.promotion_config import PromotionConfig
from gpufleet.core.slo import SloSpec
from gpufleet.promote import queries
from gpufleet.promote.prometheus import PrometheusClient, PrometheusError
from gpufleet.promote.queries import MetricQuery

# Checks with a relative bound, and their key in gpufleet:promotion.relative. Queue depth and KV-cache usage
# depend on the load per replica, which the shares make different on purpose: absolute bounds only.
RELATIVE_FIELD = {"error_ratio": "error_ratio", "ttft_p95_ms": "ttft_p95", "tpot_p95_ms": "tpot_p95",
                  "e2e_p95_ms": "e2e_p95"}


# Where each absolute bound comes from, as the config key a user would change.
ABSOLUTE_SOURCE = {"error_ratio": "gpufleet:slo.maxErrorRate", "ttft_p95_ms": "gpufleet:slo.ttftP95Ms",
                   "tpot_p95_ms": "gpufleet:slo.tpotP95Ms", "e2e_p95_ms": "gpufleet:slo.e2eP95Ms",
                   "queue_per_replica": "gpufleet:promotion.maxQueuePerReplica",
                   "kv_cache_usage": "gpufleet:promotion.maxKvCacheUsage"}


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    INVALID = "invalid"


@dataclass(frozen=True)
class CheckResult:
    """One metric of one iteration: the query, the value and every bound it was held to."""

    name: str
    unit: str
    query: str
    value: float | None
    verdict: Verdict
    reason: str
    baseline: float | None = None
    baseline_from: str | None = None  # where the baseline value was measured
    absolute: float | None = None
    relative: float | None = None
    bound: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "unit": self.unit, "value": self.value, "bound": self.bound,
                "absolute": self.absolute, "relative": self.relative, "baseline": self.baseline,
                "baseline_from": self.baseline_from, "verdict": self.verdict.value, "reason": self.reason,
                "query": self.query}


@dataclass(frozen=True)
class Iteration:
    step: int
    number: int
    at: float  # unix seconds: the end of the window
    window_s: float
    verdict: Verdict
    reason: str
    requests: float | None = None
    request_rate: float | None = None
    baseline_requests: float | None = None
    checks: tuple[CheckResult, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "iteration": self.number, "at": self.at, "window_s": self.window_s,
                "verdict": self.verdict.value, "reason": self.reason, "requests": self.requests,
                "request_rate": self.request_rate, "baseline_requests": self.baseline_requests,
                "checks": [c.to_dict() for c in self.checks]}


def absolute_bound(name: str, slo: SloSpec, config: PromotionConfig) -> float | None:
    """The objective a metric must meet whatever the baseline does (None: only the relative bound)."""
    return {
        "error_ratio": slo.max_error_rate,
        "ttft_p95_ms": slo.ttft_p95_ms,
        "tpot_p95_ms": slo.tpot_p95_ms,
        "e2e_p95_ms": slo.e2e_p95_ms,
        "queue_per_replica": config.max_queue_per_replica,
        "kv_cache_usage": config.max_kv_cache_usage,
    }[name]


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "no data"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "ratio":
        return f"{value:.4f}"
    return f"{value:.2f}"


class Analyzer:
    """Judges iterations; remembers the baseline's last valid value of each metric."""

    def __init__(self, client: PrometheusClient, config: PromotionConfig, slo: SloSpec) -> None:
        self.client = client
        self.config = config
        self.slo = slo
        self.remembered: dict[str, tuple[float, str]] = {}

    def _q(self, metric: MetricQuery, release: str, window_s: float, at: float) -> tuple[str, float | None]:
        expr = metric.expr(self.config.selector(release), window_s)
        return expr, self.client.query(expr, at)

    def iteration(self, *, step: int, number: int, candidate: str, baseline: str, at: float,
                  window_s: float) -> Iteration:
        """One iteration over the window that ends at `at`."""
        base = {"step": step, "number": number, "at": at, "window_s": window_s}
        try:
            _, requests = self._q(queries.REQUESTS, candidate, window_s, at)
            _, rate = self._q(queries.REQUEST_RATE, candidate, window_s, at)
            _, base_requests = self._q(queries.REQUESTS, baseline, window_s, at)
        except PrometheusError as exc:
            return Iteration(**base, verdict=Verdict.INCONCLUSIVE, reason=f"Prometheus: {exc}")
        counts = {"requests": requests, "request_rate": rate, "baseline_requests": base_requests}
        minimum = self.config.min_requests
        if not requests or requests < 0.5:
            return Iteration(**base, **counts, verdict=Verdict.INVALID,
                             reason=f"no traffic reached {candidate} in the last {window_s:g} s: the new weight has "
                                    "not taken effect (or the candidate's metrics are not scraped)")
        if requests < minimum:
            return Iteration(**base, **counts, verdict=Verdict.INCONCLUSIVE,
                             reason=f"too few requests: {requests:.0f} < minRequests {minimum}")
        baseline_valid = base_requests is not None and base_requests >= minimum
        where = f"step {step} iteration {number}"
        checks = tuple(self._check(m, candidate, baseline if baseline_valid else None, window_s, at, where)
                       for m in queries.CHECKED)
        verdict, reason = _overall(checks, requests)
        return Iteration(**base, **counts, verdict=verdict, reason=reason, checks=checks)

    def measure_baseline(self, baseline: str, *, at: float, window_s: float) -> dict[str, Any]:
        """Remember the baseline's values over the window before the first shift (real users' traffic).

        A plan whose first step takes all traffic leaves the baseline nothing
        to be measured on during the steps; this is what it is compared with.
        Returns what was measured, for the audit log; raises PrometheusError.
        """
        _, requests = self._q(queries.REQUESTS, baseline, window_s, at)
        measured: dict[str, Any] = {"requests": requests, "values": {}}
        if requests is None or requests < self.config.min_requests:
            measured["note"] = f"fewer than minRequests {self.config.min_requests}: not used as a baseline"
            return measured
        for metric in queries.CHECKED:
            value = self._q(metric, baseline, window_s, at)[1]
            measured["values"][metric.name] = value
            if value is not None:
                self.remembered[metric.name] = (value, "before the first shift")
        return measured

    def _check(self, metric: MetricQuery, candidate: str, baseline: str | None, window_s: float, at: float,
               where: str) -> CheckResult:
        expr = metric.expr(self.config.selector(candidate), window_s)
        try:
            value = self.client.query(expr, at)
            base_value = self._q(metric, baseline, window_s, at)[1] if baseline is not None else None
        except PrometheusError as exc:
            return CheckResult(metric.name, metric.unit, expr, None, Verdict.INCONCLUSIVE, f"Prometheus: {exc}")
        if base_value is not None:
            self.remembered[metric.name] = (base_value, where)
        reference = self.remembered.get(metric.name)
        absolute = absolute_bound(metric.name, self.slo, self.config)
        field_name = RELATIVE_FIELD.get(metric.name)
        ratio = getattr(self.config.relative, field_name) if field_name else None
        relative = None if reference is None or ratio is None else max(reference[0] * ratio,
                                                                        reference[0] + metric.slack)
        fields = {"baseline": reference[0] if reference else None, "baseline_from": reference[1] if reference else None,
                  "absolute": absolute, "relative": relative}
        if value is None:
            return CheckResult(metric.name, metric.unit, expr, None, Verdict.INCONCLUSIVE,
                               f"{metric.name}: no data", **fields)
        if relative is None and ratio is not None:
            return CheckResult(metric.name, metric.unit, expr, value, Verdict.INCONCLUSIVE,
                               f"{metric.name}: no baseline value to compare with (the baseline served fewer than "
                               f"minRequests {self.config.min_requests} before and during the promotion)", **fields)
        bound = min(b for b in (absolute, relative) if b is not None)
        if value <= bound:
            return CheckResult(metric.name, metric.unit, expr, value, Verdict.PASS,
                               f"{metric.name} {_fmt(value, metric.unit)} <= {_fmt(bound, metric.unit)}",
                               bound=bound, **fields)
        if relative is None or (absolute is not None and absolute <= relative):
            why = ABSOLUTE_SOURCE[metric.name]
        else:
            assert reference is not None and ratio is not None
            why = f"baseline {_fmt(reference[0], metric.unit)} x {ratio:g}" + (
                f", floor +{_fmt(metric.slack, metric.unit)}" if relative > reference[0] * ratio else "")
        return CheckResult(metric.name, metric.unit, expr, value, Verdict.FAIL,
                           f"{metric.name} {_fmt(value, metric.unit)} > {_fmt(bound, metric.unit)} ({why})",
                           bound=bound, **fields)


def _overall(checks: tuple[CheckResult, ...], requests: float) -> tuple[Verdict, str]:
    failed = [c for c in checks if c.verdict is Verdict.FAIL]
    if failed:
        return Verdict.FAIL, "; ".join(c.reason for c in failed)
    unknown = [c for c in checks if c.verdict is not Verdict.PASS]
    if unknown:
        return Verdict.INCONCLUSIVE, _grouped(unknown)
    return Verdict.PASS, f"all {len(checks)} checks within bounds ({requests:.0f} requests)"


def _grouped(checks: list[CheckResult]) -> str:
    """'a: no data; b: no data' -> 'a, b: no data' (the same gap in several checks is said once)."""
    by_why: dict[str, list[str]] = {}
    for c in checks:
        prefix = f"{c.name}: "
        why = c.reason.removeprefix(prefix) if c.reason.startswith(prefix) else c.reason
        names = by_why.setdefault(why, [])
        if c.reason.startswith(prefix):
            names.append(c.name)
    return "; ".join(f"{', '.join(names)}: {why}" if names else why for why, names in by_why.items())
