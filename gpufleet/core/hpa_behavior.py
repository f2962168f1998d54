"""The Kubernetes HPA's replica decision, as KEDA's ScaledObject configures it, in plain Python.

KEDA turns each trigger's value into an External metric; the HPA controller then decides
(kubernetes/pkg/controller/podautoscaler, "Algorithm details" and "Configurable scaling
behavior" in the HPA docs):
1. per metric, desired = ceil(value / target) for AverageValue targets, skipped while the
   usage ratio is within the 10% tolerance; the highest proposal wins;
2. stabilization: scaling up takes the lowest recommendation of the up-window, scaling
   down the highest of the down-window;
3. rate limits: each policy bounds the change over its period, counted from the replicas
   at the period's start; `selectPolicy` picks the largest (Max) or smallest (Min) change;
4. the result is clamped to min..max replicas.
This module reproduces those steps so that the scaling simulation tests the decisions the
cluster will make, not an idealised formula.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

TOLERANCE = 0.1


@dataclass
class HpaBehavior:
    """One HPA's state: past recommendations and scale events."""

    min_replicas: int
    max_replicas: int
    behavior: Mapping[str, Any]
    thresholds: Mapping[str, float]
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    events: list[tuple[float, int]] = field(default_factory=list)  # (time, replica change)

    def proposal(self, values: Mapping[str, float], current: int) -> int:
        """Step 1: the highest per-metric proposal (tolerance applied per metric)."""
        proposals = []
        for name, target in self.thresholds.items():
            if name not in values:
                continue
            ratio = values[name] / (target * current) if current else math.inf
            proposals.append(current if abs(ratio - 1) <= TOLERANCE else math.ceil(values[name] / target - 1e-9))
        return max(proposals, default=current)

    def _stabilized(self, now: float, desired: int, current: int) -> int:
        up_window = self.behavior["scaleUp"]["stabilizationWindowSeconds"]
        down_window = self.behavior["scaleDown"]["stabilizationWindowSeconds"]
        self.recommendations.append((now, desired))
        up = min((r for t, r in self.recommendations if t > now - up_window), default=desired) if up_window else desired
        down = max((r for t, r in self.recommendations if t > now - down_window), default=desired)
        horizon = max(up_window, down_window)
        self.recommendations = [(t, r) for t, r in self.recommendations if t > now - horizon]
        recommendation = current
        if recommendation < up:
            recommendation = up
        if recommendation > down:
            recommendation = down
        return recommendation

    def _changed_within(self, now: float, period: float) -> tuple[int, int]:
        added = sum(c for t, c in self.events if t > now - period and c > 0)
        removed = -sum(c for t, c in self.events if t > now - period and c < 0)
        return added, removed

    def _limit(self, now: float, current: int, direction: str) -> int:
        rules = self.behavior["scaleUp" if direction == "up" else "scaleDown"]
        limits = []
        for policy in rules["policies"]:
            added, removed = self._changed_within(now, policy["periodSeconds"])
            start = current - added + removed
            if direction == "up":
                limits.append(start + policy["value"] if policy["type"] == "Pods"
                              else math.ceil(start * (1 + policy["value"] / 100)))
            else:
                limits.append(start - policy["value"] if policy["type"] == "Pods"
                              else math.ceil(start * (1 - policy["value"] / 100)))
        select = rules.get("selectPolicy", "Max")
        if direction == "up":
            return max(limits) if select == "Max" else min(limits)
        return min(limits) if select == "Max" else max(limits)  # Max change down = lowest floor

    def step(self, now: float, values: Mapping[str, float], current: int) -> int:
        """The replica count the HPA sets at `now` for these metric values."""
        desired = max(self.min_replicas, min(self.max_replicas, self.proposal(values, current)))
        desired = self._stabilized(now, desired, current)
        if desired > current:
            desired = min(desired, self.max_replicas, max(current, self._limit(now, current, "up")))
        elif desired < current:
            desired = max(desired, self.min_replicas, min(current, self._limit(now, current, "down")))
        if desired != current:
            self.events.append((now, desired - current))
            self.events = [(t, c) for t, c in self.events if t > now - 1800]
        return desired


def scaled_behavior(behavior: Mapping[str, Any], factor: float) -> dict[str, Any]:
    """The same behavior with every duration divided by `factor` (for compressed-time simulations)."""
    def scale(rules: Mapping[str, Any]) -> dict[str, Any]:
        return {**rules, "stabilizationWindowSeconds": rules["stabilizationWindowSeconds"] / factor,
                "policies": [{**p, "periodSeconds": p["periodSeconds"] / factor} for p in rules["policies"]]}
    return {"scaleUp": scale(behavior["scaleUp"]), "scaleDown": scale(behavior["scaleDown"])}
