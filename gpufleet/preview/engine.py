"""Run the real Pulumi program for one stack, both phases, under the SDK's mock engine.

No cloud account and no Pulumi CLI: config comes from `stacks/Pulumi.<stack>.yaml`,
resources are registered against `pulumi.runtime` mocks (see mocks.py), and what
comes back is exactly what the program asked for: each resource's type, name,
inputs, phase and place in the deployment graph (graph.py), and the stack's
outputs. The platform phase runs first; its outputs answer the workloads
phase's StackReference, as the real platform stack would. Secrets are shown as
a placeholder.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pulumi

from gpufleet.infra import sdk_internals as sdk

from gpufleet.core.config import SECRET_PLACEHOLDER, PROVIDER_REGION_KEYS, raw_stack_config, read_stack_text
from gpufleet.core.project import ProjectError, find_project
from gpufleet.core.errors import StackConfigError
from gpufleet.preview.graph import GraphNode, node_from_read, node_from_register
from gpufleet.preview.mocks import FleetMocks

SECRET_SIG = sdk.SECRET_SIG
SECRET_VALUE = sdk.SECRET_VALUE


PHASES = ("platform", "workloads")
WORKLOADS_SUFFIX = "-workloads"  # the workloads project is named after the platform project


@dataclass
class ResourceView:
    type: str
    name: str
    inputs: dict[str, Any]
    phase: str = "platform"
    urn: str = ""
    parent: str | None = None
    provider: str | None = None
    depends_on: list[str] = field(default_factory=list)
    refs: dict[str, list[str]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "inputs": self.inputs, "phase": self.phase, "urn": self.urn,
                "parent": self.parent, "provider": self.provider, "dependsOn": self.depends_on, "refs": self.refs}


@dataclass
class PhasePreview:
    phase: str
    project: str
    ok: bool
    error: str | None
    resources: int = 0
    outputs: dict[str, Any] = field(default_factory=dict)
    data_sources: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # invokes, in order


@dataclass
class StackPreview:
    stack: str
    ok: bool
    error: str | None
    resources: list[ResourceView] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)  # both phases' exports together
    seconds: float = 0.0
    phases: list[PhasePreview] = field(default_factory=list)

    def in_phase(self, phase: str) -> list[ResourceView]:
        return [r for r in self.resources if r.phase == phase]

    def as_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "ok": self.ok,
            "error": self.error,
            "resources": [r.as_json() for r in self.resources],
            "outputs": self.outputs,
            "phases": [{"phase": p.phase, "project": p.project, "ok": p.ok, "error": p.error,
                        "resources": p.resources, "outputs": p.outputs,
                        "dataSources": sorted({token for token, _ in p.data_sources})} for p in self.phases],
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
        self.graph: list[GraphNode] = []  # one per registration, in the mocks' order
        # The SDK registers from several threads; the lock keeps each mock registration and its graph node paired.
        self._lock = threading.Lock()

    def GetDeploymentInfo(self, request):
        """Gate invokes on their dependencies like the real engine, so an invoke whose argument comes from
        a read (the platform's StackReference) is answered, not skipped as unknown."""
        return sdk.with_invoke_gating(super().GetDeploymentInfo(request))

    def RegisterResource(self, request):
        with self._lock:
            response = super().RegisterResource(request)
            if request.type != "pulumi:pulumi:Stack":
                self.graph.append(node_from_register(response.urn, request))
            return response

    def ReadResource(self, request):
        with self._lock:
            response = super().ReadResource(request)
            self.graph.append(node_from_read(response.urn, request))
            return response

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


def _plain_outputs(outputs: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Stack outputs as a StackReference reads them: values, plus the names that were secret."""
    plain, secret = {}, []
    for key, value in outputs.items():
        if isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE:
            plain[key], secret = value.get("value"), [*secret, key]
        else:
            plain[key] = value
    return plain, secret


def _config_error_in(exc: BaseException) -> StackConfigError | None:
    """A StackConfigError, raised directly or from inside an apply (the SDK wraps those in ValueErrors)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, StackConfigError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _run_phase(stack: str, phase: str, program: Callable[[], None], raw: dict[str, Any], secret_keys: list[str],
               region: str, platform: dict[str, Any] | None,
               base_project: str) -> tuple[PhasePreview, list[ResourceView], dict[str, Any]]:
    """One phase under fresh mocks; returns the summary, the resources and the raw outputs."""
    project = base_project if phase == "platform" else f"{base_project}{WORKLOADS_SUFFIX}"
    plain, secret_names = _plain_outputs(platform or {})
    mocks = FleetMocks(stack=stack, region=region, platform_outputs=plain, platform_secrets=secret_names)
    monitor = _RecordingMonitor(mocks)
    _usable_event_loop()
    sdk.reset_root_resource()
    sdk.set_config(_flatten_config(raw), secret_keys)
    # "organization" is what a self-managed (file or object-store) backend calls every organisation.
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=True, monitor=monitor,
                             organization="organization")
    sdk.reset_root_resource()  # set_mocks made a root stack; run_in_stack makes its own
    error = None
    try:
        sdk.run_program(program)
    except Exception as exc:  # noqa: BLE001 - only config errors are reported; anything else re-raises
        config_error = _config_error_in(exc)
        if config_error is None:
            raise
        error = str(config_error)
    finally:
        sdk.set_config({}, [])
        sdk.reset_root_resource()
    views = [ResourceView(r.type, r.name, _unsecret(r.inputs), phase, g.urn, g.parent, g.provider, g.depends_on, g.refs)
             for r, g in zip(mocks.registrations, monitor.graph)]
    outputs = {} if error else monitor.outputs
    calls = [(token, _unsecret(args)) for token, args in mocks.calls]
    return PhasePreview(phase, project, error is None, error, len(views), _unsecret(outputs), calls), views, outputs


def preview_stack(stack: str, program: Callable[[], None] | None = None, text: str | None = None,
                  root: Path | None = None) -> StackPreview:
    """Evaluate both phases of the real infra program (or one `program`) for `stack`; never raises for bad config."""
    started = time.perf_counter()
    try:  # bad name, file outside the stack dir, not UTF-8, malformed YAML: one line, nothing registered
        if text is None:
            text = read_stack_text(stack, root)
        raw, secret_keys = raw_stack_config(text, root, stack=stack)
        stack = find_project(root).stack_name(stack)
    except (StackConfigError, ProjectError) as exc:
        return StackPreview(stack, False, str(exc))
    region = next((str(raw[k]) for k in PROVIDER_REGION_KEYS.values() if raw.get(k)), "")
    if program is not None:
        phases = [("platform", program)]
    else:
        from gpufleet.infra.entry import main
        # fleet checks read this project's stacks, whatever the working directory
        phases = [(phase, lambda phase=phase: main(phase, root=root)) for phase in PHASES]
    base_project = find_project(root).name
    resources: list[ResourceView] = []
    summaries: list[PhasePreview] = []
    merged: dict[str, Any] = {}
    platform_raw: dict[str, Any] | None = None
    for phase, run in phases:
        summary, views, raw_outputs = _run_phase(stack, phase, run, raw, secret_keys, region, platform_raw,
                                                 base_project)
        resources += views
        summaries.append(summary)
        if not summary.ok:
            return StackPreview(stack, False, summary.error, resources, {}, time.perf_counter() - started, summaries)
        platform_raw = raw_outputs if phase == "platform" else platform_raw
        merged.update({k: v for k, v in summary.outputs.items() if k != "phase"})
    return StackPreview(stack, True, None, resources, merged, time.perf_counter() - started, summaries)
