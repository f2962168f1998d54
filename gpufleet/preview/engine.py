"""Run the real Pulumi program for one stack under the SDK's mock engine.

No cloud account and no Pulumi CLI: config comes from `stacks/Pulumi.<stack>.yaml`,
resources are registered against `pulumi.runtime` mocks (see mocks.py), and what
comes back is exactly what the program asked for: each resource's type, name
and inputs, and the stack's outputs. Secrets are shown as a placeholder.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pulumi

from gpufleet.infra import sdk_internals as sdk

from gpufleet.core.config import SECRET_PLACEHOLDER, PROVIDER_REGION_KEYS, raw_stack_config, stack_file
from gpufleet.core.project import find_project
from gpufleet.core.errors import StackConfigError
from gpufleet.preview.mocks import FleetMocks

SECRET_SIG = sdk.SECRET_SIG
SECRET_VALUE = sdk.SECRET_VALUE


@dataclass
class ResourceView:
    type: str
    name: str
    inputs: dict[str, Any]


@dataclass
class StackPreview:
    stack: str
    ok: bool
    error: str | None
    resources: list[ResourceView] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "ok": self.ok,
            "error": self.error,
            "resources": [{"type": r.type, "name": r.name, "inputs": r.inputs} for r in self.resources],
            "outputs": self.outputs,
        }


def _unsecret(value: Any) -> Any:
    """Replace secret-wrapped values (and unknowns) with printable placeholders."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VALUE:
            return SECRET_PLACEHOLDER
        return {k: _unsecret(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_unsecret(v) for v in value]
    if sdk.is_unknown(value):
        return "[unknown]"  # known only after deploy, as in a real preview
    if isinstance(value, float) and value.is_integer():
        return int(value)  # protobuf carries every number as a double
    return value


class _RecordingMonitor(sdk.MockMonitor):
    """A MockMonitor that keeps the stack's outputs as the engine would see them."""

    outputs: dict[str, Any]

    def __init__(self, mocks: FleetMocks):
        super().__init__(mocks)
        self.outputs = {}

    def RegisterResourceOutputs(self, request):
        if "::pulumi:pulumi:Stack::" in request.urn:
            self.outputs = sdk.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)


def prepare() -> None:
    """Import the program once, then freeze the heap so the collector skips the SDKs.

    The provider SDKs leave ~200k long-lived objects; without gc.freeze() every
    few stacks a full collection walks them all again (0.1-0.2 s each time),
    which made `--all` grow faster than linearly with the number of stacks.
    """
    import gc

    from gpufleet.infra import entry

    entry.preload()
    gc.collect()
    gc.freeze()


def _usable_event_loop() -> None:
    """The SDK's sync helpers need a current, open loop; a caller may have closed it (asyncio.run)."""
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
        if not loop.is_closed():
            return
    except RuntimeError:
        pass
    asyncio.set_event_loop(asyncio.new_event_loop())


def _flatten_config(raw: dict[str, Any]) -> dict[str, str]:
    """Pulumi hands the program config as strings, structured values as JSON."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}


def preview_stack(stack: str, program: Callable[[], None] | None = None, text: str | None = None,
                  root: Path | None = None) -> StackPreview:
    """Evaluate `program` (default: the real infra program) for `stack`; never raises for bad config."""
    started = time.perf_counter()
    if program is None:
        from gpufleet.infra.entry import main as program
    if text is None:
        path = stack_file(stack, root)
        if not path.exists():
            return StackPreview(stack, False, f"stack '{stack}': stack: no stack file {path.name}")
        text = path.read_text(encoding="utf-8")
    raw, secret_keys = raw_stack_config(text, root)
    region = next((str(raw[k]) for k in PROVIDER_REGION_KEYS.values() if raw.get(k)), "")
    mocks = FleetMocks(stack=stack, region=region)
    monitor = _RecordingMonitor(mocks)

    _usable_event_loop()
    sdk.reset_root_resource()
    sdk.set_config(_flatten_config(raw), secret_keys)
    pulumi.runtime.set_mocks(mocks, project=find_project(root).name, stack=stack, preview=True, monitor=monitor)
    sdk.reset_root_resource()  # set_mocks made a root stack; run_in_stack makes its own
    error = None
    try:
        sdk.run_program(program)
    except StackConfigError as exc:
        error = str(exc)
    finally:
        sdk.set_config({}, [])
        sdk.reset_root_resource()
    resources = [ResourceView(r.type, r.name, _unsecret(r.inputs)) for r in mocks.registrations]
    if error:
        return StackPreview(stack, False, error, resources, {}, time.perf_counter() - started)
    return StackPreview(stack, True, None, resources, _unsecret(monitor.outputs), time.perf_counter() - started)
