"""The Automation API and load-test adapters: what they send and how their errors come back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pulumi.automation import Deployment, OutputValue
from pulumi.automation.errors import CommandError, ConcurrentUpdateError

from gpufleet.loadtest.gate import Verdict, harness_failure
from gpufleet.core.slo import SloSpec
from gpufleet.promote.automation import PulumiStack, last_line, route_urns, weight_config
from gpufleet.promote.gates import LoadTestGate, needs_remote
from gpufleet.promote.machine import ApplyError

SLO = SloSpec.model_validate({"targetUsers": 4, "durationS": 3, "ttftP95Ms": 800, "minSamples": 5})


def test_weights_are_set_as_path_config_keys() -> None:
    assert weight_config({"green": 10, "blue": 90}) == {
        "gpufleet:traffic.releaseWeights.blue": "90",
        "gpufleet:traffic.releaseWeights.green": "10",
    }


def test_only_the_routers_httproute_is_targeted() -> None:
    resources = [
        {"urn": "urn:pulumi:prod-us-east-1::gpufleet::pulumi:pulumi:Stack::gpufleet-prod-us-east-1", "type": "pulumi:pulumi:Stack"},
        {"urn": "urn:pulumi:prod-us-east-1::gpufleet::gpufleet:k8s:TrafficRouter$kubernetes:gateway.networking.k8s.io/v1:HTTPRoute::prod-us-east-1-httproute",
         "type": "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"},
        {"urn": "urn:pulumi:prod-us-east-1::gpufleet::gpufleet:k8s:TrafficRouter$kubernetes:gateway.networking.k8s.io/v1:Gateway::prod-us-east-1-gateway",
         "type": "kubernetes:gateway.networking.k8s.io/v1:Gateway"},
        {"urn": "urn:pulumi:prod-us-east-1::gpufleet::kubernetes:gateway.networking.k8s.io/v1:HTTPRoute::hand-made",
         "type": "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"},
    ]
    assert route_urns(resources) == [resources[1]["urn"]]


def test_pulumi_errors_are_reduced_to_their_last_line() -> None:
    err = RuntimeError("\n code: 255\n stdout: Updating (prod)\n\n stderr: error: [409] Conflict: Another update is currently in progress.\n")
    assert last_line(err) == "stderr: error: [409] Conflict: Another update is currently in progress."
    assert last_line(RuntimeError("")) == "RuntimeError"


class Report:
    """What run_gate returns, as far as the adapter reads it."""

    gate = harness_failure("locust exited with code 1 without writing results")


def test_gate_adapter_passes_target_model_slo_and_remote_permission() -> None:
    seen: list[dict[str, Any]] = []

    def runner(target_url: str, model: str | None, slo: SloSpec, **kwargs: Any) -> Any:
        seen.append({"target": target_url, "model": model, "slo": slo, **kwargs})
        return Report()

    gate = LoadTestGate(allow_remote=True, runner=runner)
    result = gate.check("http://lb.example/release/green", "qwen3-8b", SLO, 10)
    assert result.verdict is Verdict.INVALID and gate.last_report is not None
    assert seen == [{"target": "http://lb.example/release/green", "model": "qwen3-8b", "slo": SLO,
                     "allow_remote": True, "on_progress": None}]


def test_gate_adapter_turns_a_refused_target_into_invalid() -> None:
    gate = LoadTestGate(allow_remote=False)
    result = gate.check("http://lb.example/release/green", "qwen3-8b", SLO, 0)
    assert result.verdict is Verdict.INVALID
    assert result.reason == (
        "harness error: the gate cannot run against 'http://lb.example/release/green': refusing to load-test "
        "'lb.example': only loopback targets (127.0.0.1, ::1, localhost) are allowed without --allow-remote"
    )


def test_remote_targets() -> None:
    assert needs_remote("http://k8s-gateway.elb.us-east-1.amazonaws.com/release/green")
    assert needs_remote("http://47.96.10.20/release/green")
    assert not needs_remote("http://127.0.0.1:8000")
    assert not needs_remote("http://localhost:8000/release/green")


# ---------------------------------------------------------------- PulumiStack with a stand-in automation.Stack

ROUTE_URN = ("urn:pulumi:prod-us-east-1::gpufleet::gpufleet:k8s:TrafficRouter$"
             "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute::prod-us-east-1-httproute")


class FakeAutomationStack:
    """The four automation.Stack methods the adapter uses; `up_error` is raised by up()."""

    def __init__(self, up_error: Exception | None = None, resources: list[dict[str, Any]] | None = None) -> None:
        self.up_error = up_error
        self.resources = resources if resources is not None else [
            {"urn": ROUTE_URN, "type": "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"}]
        self.calls: list[tuple[str, Any]] = []

    def set_all_config(self, config: dict[str, Any], *, path: bool = False) -> None:
        self.calls.append(("set_all_config", ({k: (v.value, v.secret) for k, v in config.items()}, path)))

    def export_stack(self) -> Any:
        return Deployment(version=3, deployment={"resources": self.resources})

    def up(self, **kwargs: Any) -> None:
        self.calls.append(("up", {k: kwargs[k] for k in ("message", "target", "color")}))
        if self.up_error is not None:
            raise self.up_error

    def outputs(self) -> dict[str, Any]:
        return {"kubeconfig": OutputValue("apiVersion: v1", True), "gatewayAddress": OutputValue("lb.example", False)}


def pulumi_stack(fake: FakeAutomationStack) -> PulumiStack:
    return PulumiStack("prod-us-east-1", Path("."), stack=fake)


def test_apply_sets_the_weights_by_path_then_updates_only_the_route() -> None:
    fake = FakeAutomationStack()
    pulumi_stack(fake).apply({"blue": 90, "green": 10}, message="gpufleet promote green: step 1")
    assert fake.calls == [
        ("set_all_config", ({"gpufleet:traffic.releaseWeights.blue": ("90", False),
                             "gpufleet:traffic.releaseWeights.green": ("10", False)}, True)),
        ("up", {"message": "gpufleet promote green: step 1", "target": [ROUTE_URN], "color": "never"}),
    ]
    assert pulumi_stack(fake).outputs() == {"kubeconfig": "apiVersion: v1", "gatewayAddress": "lb.example"}


def test_apply_errors_become_apply_errors() -> None:
    busy = ConcurrentUpdateError(RuntimeError("code: 255\n stderr: error: [409] Conflict: Another update is currently in progress."))
    with pytest.raises(ApplyError) as err:
        pulumi_stack(FakeAutomationStack(busy)).apply({"blue": 100}, message="m")
    assert err.value.retryable
    assert str(err.value) == ("another update is running on 'prod-us-east-1': stderr: error: [409] Conflict: "
                              "Another update is currently in progress.")
    failed = CommandError(RuntimeError("code: 255\n stderr: error: update failed"))
    with pytest.raises(ApplyError) as err:
        pulumi_stack(FakeAutomationStack(failed)).apply({"blue": 100}, message="m")
    assert not err.value.retryable and str(err.value) == "stderr: error: update failed"
    untouched = FakeAutomationStack(resources=[])
    with pytest.raises(ApplyError) as err:
        pulumi_stack(untouched).apply({"blue": 100}, message="m")
    assert str(err.value) == "stack 'prod-us-east-1' has no TrafficRouter HTTPRoute yet; run `pulumi up` once first"
    assert untouched.calls == []
