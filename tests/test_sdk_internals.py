"""The contract of gpufleet.infra.sdk_internals with the installed Pulumi SDK.

Each private name the offline preview needs is checked for what gpufleet relies on. A new
`pulumi` minor version is allowed in pyproject.toml only after this file passes on it.
"""

from __future__ import annotations

import asyncio
import re

import pulumi
from google.protobuf import struct_pb2

from conftest import ROOT
from gpufleet.infra import sdk_internals as sdk
from gpufleet.preview.engine import preview_stack


def test_installed_pulumi_is_in_the_pinned_range():
    pyproject = (ROOT / "pyproject.toml").read_text()
    low, high = re.search(r'"pulumi>=(\d+\.\d+),<(\d+\.\d+)"', pyproject).groups()
    version = tuple(int(p) for p in pulumi.__version__.split(".")[:2]) if hasattr(pulumi, "__version__") else None
    if version is None:
        from importlib.metadata import version as dist_version
        version = tuple(int(p) for p in dist_version("pulumi").split(".")[:2])
    assert tuple(map(int, low.split("."))) <= version < tuple(map(int, high.split(".")))


def test_wire_constants_are_the_sdks():
    assert sdk.SECRET_SIG == "4dabf18193072939515e22adb298388d"
    assert sdk.SECRET_VALUE == "1b47061264138c4ac30d75fd1eb44270"
    assert sdk.UNKNOWN == "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    assert sdk.is_unknown(sdk.UNKNOWN) and not sdk.is_unknown("x")


def test_deserialize_keeps_secrets_marked():
    struct = struct_pb2.Struct()
    struct.update({"plain": "a", "hidden": {sdk.SECRET_SIG: sdk.SECRET_VALUE, "value": "s3cr3t"}})
    out = sdk.deserialize_properties(struct)
    assert out["plain"] == "a"
    assert out["hidden"] == {sdk.SECRET_SIG: sdk.SECRET_VALUE, "value": "s3cr3t"}


def test_config_map_and_secret_keys(monkeypatch):
    monkeypatch.setenv("PULUMI_CONFIG", '{"gpufleet:fromEnv": "1"}')
    monkeypatch.delenv("PULUMI_CONFIG_SECRET_KEYS", raising=False)
    sdk.set_config({"gpufleet:team": "llm", "gpufleet:compliance": '{"a": 1}'}, ["gpufleet:compliance"])
    try:
        assert sdk.config_map() == {"gpufleet:fromEnv": "1", "gpufleet:team": "llm", "gpufleet:compliance": '{"a": 1}'}
        assert pulumi.Config("gpufleet").get("team") == "llm"
        assert sdk.secret_config_keys(["gpufleet:team", "gpufleet:compliance"]) == {"gpufleet:compliance"}
        monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", '["gpufleet:team"]')
        assert sdk.secret_config_keys(["gpufleet:team"]) == {"gpufleet:team"}
    finally:
        sdk.set_config({}, [])
    assert sdk.config_map() == {"gpufleet:fromEnv": "1"}


def test_sync_await_runs_a_coroutine():
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    asyncio.set_event_loop(asyncio.new_event_loop())
    assert sdk.sync_await(answer()) == 42


def test_a_program_runs_repeatedly_in_one_process_with_its_own_stack_each_time():
    """run_program + reset_root_resource + MockMonitor: what the preview does per stack."""
    assert hasattr(sdk.MockMonitor, "RegisterResourceOutputs")

    def program() -> None:
        pulumi.export("secret", pulumi.Output.secret("hidden"))
        pulumi.export("stack", pulumi.get_stack())

    text = (ROOT / "stacks" / "Pulumi.prod-us-east-1.yaml").read_text()
    first = preview_stack("prod-us-east-1", program=program, text=text, root=ROOT)
    second = preview_stack("prod-eu-central-1", program=program, text=text, root=ROOT)
    assert first.ok and second.ok, (first.error, second.error)
    assert first.outputs == {"secret": "[secret]", "stack": "prod-us-east-1"}
    assert second.outputs["stack"] == "prod-eu-central-1"
    assert first.resources == [] and second.resources == []


def test_invoke_gating_is_the_engines_feature():
    from pulumi.runtime.proto import resource_pb2

    info = sdk.with_invoke_gating(resource_pb2.DeploymentInfo(supportedFeatures=[]))
    assert list(info.supportedFeatures) == [resource_pb2.RESOURCE_MONITOR_FEATURE_INVOKE_DEPENDS_ON]
