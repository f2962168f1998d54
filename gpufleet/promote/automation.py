"""The Pulumi side of a promotion, through the Automation API: read outputs, set weights, `pulumi up`.

Weights are written with `set_all_config(..., path=True)`: one
`gpufleet:traffic.releaseWeights.<release>` entry per release, which the CLI
stores as numbers inside the existing YAML object (the stack file keeps its
shape). The update targets only the stack's HTTPRoute, so a promotion never
deploys unrelated pending changes; the weights are the only input that moves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gpufleet.promote.machine import ApplyError

HTTPROUTE_TYPE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
ROUTER_TYPE = "gpufleet:k8s:TrafficRouter"


class StackUnavailable(RuntimeError):
    """The stack cannot be read (not deployed, no access, no backend login); str() is one line."""


def weight_config(weights: Mapping[str, int]) -> dict[str, str]:
    """Path-style config keys and their values (the CLI turns integer strings into numbers)."""
    return {f"gpufleet:traffic.releaseWeights.{name}": str(int(w)) for name, w in sorted(weights.items())}


def route_urns(resources: Sequence[Mapping[str, Any]]) -> list[str]:
    """URNs of the HTTPRoutes that a TrafficRouter owns, from `export_stack()` resources."""
    return [r["urn"] for r in resources if r.get("type") == HTTPROUTE_TYPE and f"{ROUTER_TYPE}$" in r.get("urn", "")]


def last_line(exc: BaseException) -> str:
    """Pulumi's errors carry the whole CLI output; the last non-empty line says what went wrong."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


class PulumiStack:
    """One selected stack of this project (Pulumi.yaml in `work_dir`)."""

    def __init__(self, stack_name: str, work_dir: Path, on_output: Callable[[str], None] | None = None,
                 *, stack: Any = None) -> None:
        """`stack`: an already selected `automation.Stack` (or a stand-in with its methods)."""
        from pulumi import automation as auto

        self._auto = auto
        self.stack_name = stack_name
        self.on_output = on_output
        if stack is not None:
            self.stack = stack
            return
        try:
            self.stack = auto.select_stack(stack_name=stack_name, work_dir=str(work_dir))
        except auto.errors.CommandError as exc:
            raise StackUnavailable(f"pulumi cannot select stack '{stack_name}': {last_line(exc)}") from None

    def outputs(self) -> dict[str, Any]:
        try:
            return {name: out.value for name, out in self.stack.outputs().items()}
        except self._auto.errors.CommandError as exc:
            raise StackUnavailable(f"pulumi cannot read the outputs of '{self.stack_name}': {last_line(exc)}") from None

    def _targets(self) -> list[str]:
        try:
            deployment = self.stack.export_stack()
        except self._auto.errors.CommandError as exc:
            raise ApplyError(f"cannot read the state of '{self.stack_name}': {last_line(exc)}") from None
        urns = route_urns((deployment.deployment or {}).get("resources") or [])
        if not urns:
            raise ApplyError(f"stack '{self.stack_name}' has no TrafficRouter HTTPRoute yet; run `pulumi up` once first")
        return urns

    def apply(self, weights: Mapping[str, int], *, message: str) -> None:
        errors = self._auto.errors
        targets = self._targets()  # before touching the config: no route, no change
        try:
            self.stack.set_all_config(
                {key: self._auto.ConfigValue(value=value) for key, value in weight_config(weights).items()}, path=True
            )
            self.stack.up(message=message, target=targets, color="never", on_output=self.on_output)
        except errors.ConcurrentUpdateError as exc:
            raise ApplyError(f"another update is running on '{self.stack_name}': {last_line(exc)}", retryable=True) from None
        except errors.CommandError as exc:
            raise ApplyError(last_line(exc)) from None
