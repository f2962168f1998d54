"""The step plan of a promotion: which share the candidate gets at each step, and everyone's weights.

Pure. The candidate's share rises through the steps; what is left goes to
the other releases in proportion to their current weights (largest
remainder, so weights stay integers adding up to 100). Every step's weights
are validated with the same rules as the stack config, so a plan can never
ask `pulumi up` for weights the config would reject.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gpufleet.core.errors import ConfigError
from gpufleet.core.traffic_config import WEIGHT_TOTAL, TrafficConfig, validate_traffic

DEFAULT_STEPS = (10, 50, 100)


class PlanError(ValueError):
    """A promotion that cannot be planned; str() is one line."""


@dataclass(frozen=True)
class Step:
    number: int  # 1-based
    share: int  # the candidate's weight after this step
    before: dict[str, int]
    after: dict[str, int]


@dataclass(frozen=True)
class Plan:
    stack: str
    candidate: str
    start: dict[str, int]
    steps: tuple[Step, ...]

    @property
    def final(self) -> dict[str, int]:
        return self.steps[-1].after


def parse_steps(text: str) -> tuple[int, ...]:
    """'10,50,100' -> (10, 50, 100): integers from 1 to 100, strictly rising."""
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p for p in parts):
        raise PlanError(f"--steps must be comma-separated percentages like 10,50,100; got {text!r}")
    steps = []
    for part in parts:
        try:
            value = int(part)
        except ValueError:
            raise PlanError(f"--steps: {part!r} is not an integer percentage (allowed: 1 to 100)") from None
        if not 1 <= value <= WEIGHT_TOTAL:
            raise PlanError(f"--steps: {value} is outside 1 to {WEIGHT_TOTAL}")
        steps.append(value)
    for earlier, later in zip(steps, steps[1:]):
        if later <= earlier:
            raise PlanError(f"--steps must rise strictly; {later} follows {earlier}")
    return tuple(steps)


def weights_at(current: Mapping[str, int], candidate: str, share: int) -> dict[str, int]:
    """The candidate at `share`; the rest split among the others in proportion to their weights."""
    others = {name: w for name, w in sorted(current.items()) if name != candidate}
    remaining = WEIGHT_TOTAL - share
    total = sum(others.values())
    if remaining and not total:
        raise PlanError(
            f"no other release carries traffic to take the remaining {remaining}% "
            f"(current weights: {_fmt(current)})"
        )
    exact = {name: w * remaining / total if total else 0.0 for name, w in others.items()}
    result = {name: int(value) for name, value in exact.items()}
    leftover = remaining - sum(result.values())
    # Largest fractional part first; ties go to the heavier, then the alphabetically first release.
    for name in sorted(exact, key=lambda n: (-(exact[n] - result[n]), -others[n], n))[:leftover]:
        result[name] += 1
    return {**result, candidate: share}


def build_plan(
    stack: str,
    traffic: TrafficConfig,
    candidate: str,
    steps: tuple[int, ...],
    *,
    jurisdiction: str,
    cloud: str,
    releases: Mapping[str, int],
) -> Plan:
    """Validate the candidate and every step's weights against the stack's releases."""
    if candidate not in releases:
        allowed = ", ".join(sorted(releases)) or "none"
        raise PlanError(f"--to {candidate!r} is not a release of stack '{stack}' (allowed: {allowed})")
    if releases[candidate] <= 0:
        raise PlanError(f"release {candidate!r} of stack '{stack}' has {releases[candidate]} replicas; it cannot take traffic")
    start = {name: traffic.weight_of(name) for name in sorted({*traffic.release_weights, candidate})}
    if steps[0] <= start[candidate]:
        raise PlanError(
            f"--steps: the first step {steps[0]}% is not above {candidate!r}'s current share of "
            f"{start[candidate]}% (current weights: {_fmt(start)})"
        )
    planned: list[Step] = []
    before = start
    for number, share in enumerate(steps, start=1):
        after = weights_at(start, candidate, share)
        try:
            validate_traffic(traffic.with_release_weights(after), stack=stack, jurisdiction=jurisdiction,
                             cloud=cloud, releases=releases)
        except ConfigError as exc:
            raise PlanError(f"step {number} ({share}%) would set invalid weights: {exc}") from None
        planned.append(Step(number, share, before, after))
        before = after
    return Plan(stack, candidate, start, tuple(planned))


def _fmt(weights: Mapping[str, int]) -> str:
    return ", ".join(f"{name}={w}" for name, w in sorted(weights.items()))


def format_weights(weights: Mapping[str, int]) -> str:
    return _fmt(weights)
