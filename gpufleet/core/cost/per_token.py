"""Cost per million output tokens, from a stack's cost and one load-test report.

The load test measured ONE release endpoint: all of a stack's GPU replicas at
its desired size, behind its load balancer. What it costs to keep that endpoint
serving is the whole stack at the desired size (GPU and system pools, disks,
control plane, NAT, load balancer, IPs, storage and logs), because the stack
exists only to serve it; so that hourly total is the numerator:

    cost per 1M output tokens = stack hourly (desired) / (output tokens/s x 3600) x 10^6

The autoscaling maximum is not used: the measured throughput belongs to the
desired size. A run whose SLO gate did not pass is still reported, but flagged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

from gpufleet.core.cost.model import CostInputError, StackCost, to_decimal

SECONDS_PER_HOUR = Decimal(3600)
MILLION = Decimal(1_000_000)
PASS = "pass"


class LoadTestReportError(ValueError):
    """A load-test report without the fields the per-token figure needs."""


@dataclass(frozen=True)
class LoadTestResult:
    path: str
    target: str
    model: str
    duration_s: Decimal
    output_tokens_per_s: Decimal
    verdict: str

    @property
    def passed(self) -> bool:
        return self.verdict == PASS


@dataclass(frozen=True)
class TokenCost:
    stack: str
    currency: str
    hourly: Decimal  # whole stack at desired size, billing currency
    per_million: Decimal  # billing currency
    per_million_usd: Decimal
    loadtest: LoadTestResult

    @property
    def flagged(self) -> bool:
        return not self.loadtest.passed


def parse_loadtest_report(data: Mapping[str, Any], path: str) -> LoadTestResult:
    """Validate the fields used here: output_tokens_per_s, gate.verdict, target, model, duration_s."""
    if not isinstance(data, Mapping):
        raise LoadTestReportError(f"load-test report {path}: must be a JSON object")
    gate = data.get("gate")
    verdict = gate.get("verdict") if isinstance(gate, Mapping) else None
    if not isinstance(verdict, str) or not verdict:
        raise LoadTestReportError(f"load-test report {path}: gate.verdict is required")
    if not isinstance(data.get("target"), str) or not data["target"]:
        raise LoadTestReportError(f"load-test report {path}: target is required")
    if not isinstance(data.get("model"), str):  # may be "" when the server did not name it
        raise LoadTestReportError(f"load-test report {path}: model is required")
    if data.get("output_tokens_per_s", 0) is None:  # an `invalid` run has no statistics
        raise LoadTestReportError(
            f"load-test report {path}: no output_tokens_per_s (verdict {verdict!r}); there is no throughput to price"
        )
    numbers = {}
    for name in ("output_tokens_per_s", "duration_s"):
        if name not in data:
            raise LoadTestReportError(f"load-test report {path}: {name} is required")
        try:
            numbers[name] = to_decimal(data[name], name)
        except CostInputError:
            raise LoadTestReportError(f"load-test report {path}: {name} must be a number; got {data[name]!r}") from None
    if numbers["output_tokens_per_s"] <= 0:
        raise LoadTestReportError(
            f"load-test report {path}: output_tokens_per_s must be > 0; got {data['output_tokens_per_s']!r}"
        )
    return LoadTestResult(
        path=path, target=data["target"], model=data["model"], duration_s=numbers["duration_s"],
        output_tokens_per_s=numbers["output_tokens_per_s"], verdict=verdict,
    )


def load_loadtest_report(path: Path) -> LoadTestResult:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LoadTestReportError(f"load-test report {path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise LoadTestReportError(f"load-test report {path}: not valid JSON (line {exc.lineno})") from None
    return parse_loadtest_report(data, str(path))


def cost_per_million_tokens(cost: StackCost, result: LoadTestResult) -> TokenCost:
    tokens_per_hour = result.output_tokens_per_s * SECONDS_PER_HOUR
    return TokenCost(
        stack=cost.stack,
        currency=cost.billing_currency,
        hourly=cost.desired.hourly,
        per_million=cost.desired.hourly / tokens_per_hour * MILLION,
        per_million_usd=cost.desired_usd.hourly / tokens_per_hour * MILLION,
        loadtest=result,
    )
