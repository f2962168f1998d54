"""ModelServer / GpuDevicePlugin components under the Pulumi mock engine.

The mocks record every registered resource's type, name, provider and inputs, so
the tests assert what Pulumi would send to the cluster.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from gpufleet.infra.components.model_server import (
    GpuDevicePlugin,
    GpuDevicePluginArgs,
    ModelServer,
    ModelServerArgs,
    bind_tokens,
    register_objects,
)
from test_gpu_plugin import plugin_params
from test_manifests import CASES, make_params


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: dict[str, dict[str, Any]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.resources[args.name] = {"type": args.typ, "inputs": args.inputs, "provider": args.provider}
        return [f"{args.name}-id", args.inputs]

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


@pytest.fixture
def mocks() -> RecordingMocks:
    recorder = RecordingMocks()
    pulumi.runtime.set_mocks(recorder, preview=False)
    return recorder


def provider() -> k8s.Provider:
    return k8s.Provider("stack-k8s", kubeconfig="apiVersion: v1\nkind: Config\n")


def when_registered(component: pulumi.ComponentResource, check) -> pulumi.Output:
    """Run `check` once every child resource has been registered with the engine."""
    return pulumi.Output.all(*[r.urn for r in component.resources.values()]).apply(lambda _: check())


@pulumi.runtime.test
def test_release_resources_are_typed_and_use_the_explicit_provider(mocks: RecordingMocks):
    server = ModelServer("blue", ModelServerArgs(params=make_params(CASES["aws-7b"]), provider=provider()))

    def check() -> None:
        types = {name: r["type"] for name, r in mocks.resources.items() if name.startswith("blue-")}
        assert types == {
            "blue-namespace-llm-blue": "kubernetes:core/v1:Namespace",
            "blue-serviceaccount-model-server": "kubernetes:core/v1:ServiceAccount",
            "blue-deployment-vllm-blue": "kubernetes:apps/v1:Deployment",
            "blue-service-vllm-blue": "kubernetes:core/v1:Service",
            "blue-poddisruptionbudget-vllm-blue": "kubernetes:policy/v1:PodDisruptionBudget",
            "blue-scaledobject-vllm-blue": "kubernetes:keda.sh/v1alpha1:ScaledObject",
            "blue-networkpolicy-default-deny": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
            "blue-networkpolicy-vllm-blue-allow-serving": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
            "blue-networkpolicy-vllm-blue-allow-dns": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
            "blue-networkpolicy-vllm-blue-allow-https-egress": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        }
        for name in types:
            assert mocks.resources[name]["provider"].startswith("urn:pulumi:")
            assert "stack-k8s" in mocks.resources[name]["provider"]

    return when_registered(server, check)


@pulumi.runtime.test
def test_release_inputs(mocks: RecordingMocks):
    server = ModelServer("blue", ModelServerArgs(params=make_params(CASES["cn-72b"]), provider=provider()))

    def check() -> None:
        ns = mocks.resources["blue-namespace-llm-blue"]["inputs"]
        assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        assert ns["metadata"]["labels"]["gpufleet.io/team"] == "ml-platform"
        sa = mocks.resources["blue-serviceaccount-model-server"]["inputs"]
        assert sa["automountServiceAccountToken"] is False
        dep = mocks.resources["blue-deployment-vllm-blue"]["inputs"]
        pod = dep["spec"]["template"]["spec"]
        (vllm,) = pod["containers"]
        assert vllm["resources"]["limits"]["nvidia.com/gpu"] == 4
        assert vllm["startupProbe"]["failureThreshold"] == 219
        assert vllm["readinessProbe"]["httpGet"]["path"] == "/v1/models"
        assert vllm["livenessProbe"]["httpGet"]["path"] == "/health"
        assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
        assert pod["initContainers"][0]["command"][0] == "ossutil"

    return when_registered(server, check)


@pulumi.runtime.test
def test_outputs(mocks: RecordingMocks):
    server = ModelServer("blue", ModelServerArgs(params=make_params(CASES["aws-7b"]), provider=provider()))

    def check(values: list[str]) -> None:
        assert values == ["vllm-blue", "llm-blue", "http://vllm-blue.llm-blue.svc.cluster.local:8000/v1"]

    return pulumi.Output.all(server.service_name, server.namespace, server.endpoint).apply(check)


@pulumi.runtime.test
def test_late_inputs_are_bound_into_the_manifests(mocks: RecordingMocks):
    params = replace(
        make_params(CASES["aws-7b"]),
        weights_source_url="{{weights_bucket_url}}/models/Qwen2.5-7B-Instruct",
        service_account_annotations={"eks.amazonaws.com/role-arn": "{{weights_reader_role_arn}}"},
    )
    late = {
        "weights_bucket_url": pulumi.Output.from_input("s3://gpufleet-prod-us-weights-abc"),
        "weights_reader_role_arn": pulumi.Output.from_input("arn:aws:iam::123456789012:role/reader"),
    }
    server = ModelServer("blue", ModelServerArgs(params=params, provider=provider(), late_inputs=late))

    def check() -> None:
        dep = mocks.resources["blue-deployment-vllm-blue"]["inputs"]
        fetch = dep["spec"]["template"]["spec"]["initContainers"][0]
        assert fetch["command"][-2] == "s3://gpufleet-prod-us-weights-abc/models/Qwen2.5-7B-Instruct/"
        sa = mocks.resources["blue-serviceaccount-model-server"]["inputs"]
        assert sa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/reader"}

    return when_registered(server, check)


def test_unbound_token_is_an_error():
    with pytest.raises(ValueError) as caught:
        bind_tokens({"a": ["{{bucket}}/x"]}, {})
    assert str(caught.value) == "no late input bound for token(s) bucket in '{{bucket}}/x'"


def test_an_explicit_provider_is_required(mocks: RecordingMocks):
    owner = pulumi.ComponentResource("test:index:Owner", "owner")
    with pytest.raises(TypeError) as caught:
        register_objects(owner, "x", [], None, {})  # type: ignore[arg-type]
    assert str(caught.value) == "an explicit pulumi_kubernetes.Provider is required (no ambient kubeconfig)"


def test_unknown_kinds_are_refused(mocks: RecordingMocks):
    owner = pulumi.ComponentResource("test:index:Owner", "owner")
    with pytest.raises(ValueError) as caught:
        register_objects(owner, "x", [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}], provider(), {})
    assert str(caught.value) == "no typed resource for v1 Secret"


@pulumi.runtime.test
def test_device_plugin_component(mocks: RecordingMocks):
    plugin = GpuDevicePlugin("gpu", GpuDevicePluginArgs(params=plugin_params(), provider=provider()))

    def check() -> None:
        ds = mocks.resources["gpu-daemonset-nvidia-device-plugin"]
        assert ds["type"] == "kubernetes:apps/v1:DaemonSet"
        assert ds["inputs"]["metadata"]["namespace"] == "nvidia-device-plugin"
        pod = ds["inputs"]["spec"]["template"]["spec"]
        assert pod["nodeSelector"] == {"gpufleet.io/pool": "gpu"}
        assert pod["tolerations"][0]["effect"] == "NoSchedule"
        ns = mocks.resources["gpu-namespace-nvidia-device-plugin"]["inputs"]
        assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"

    return when_registered(plugin, check)
