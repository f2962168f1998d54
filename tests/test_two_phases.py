"""Two Pulumi projects per region, one stack file: platform (`Pulumi.yaml`) and workloads (`workloads/`)."""

from __future__ import annotations

import pytest
import yaml

from conftest import ROOT, cached_preview, shipped_stacks
from gpufleet.core.config import load_stack, project_config_defaults
from gpufleet.preview.engine import preview_stack
from gpufleet.preview.mocks import FleetMocks, UnmockedDataSource

STACKS = shipped_stacks()
CONTRACT = {"clusterName", "registryUrl", "weightsBucketUrl", "weightsReaderRoleArn", "vpcId"}
ACCESS = {"aws": {"clusterEndpoint", "clusterCa", "oidcProviderArn"}, "alicloud": {"clusterId", "registryInstanceId"}}


def workloads_project() -> dict:
    return yaml.safe_load((ROOT / "workloads" / "Pulumi.yaml").read_text())


def test_workloads_project_shares_the_stack_files_and_the_virtualenv():
    p = workloads_project()
    assert p["name"] == "gpufleet-workloads" and p["runtime"]["name"] == "python"
    assert p["runtime"]["options"]["virtualenv"] == "../.venv"
    assert p["stackConfigDir"] == "../stacks" and "main" not in p
    assert "main(WORKLOADS)" in (ROOT / "workloads" / "__main__.py").read_text()
    assert "main()  # the platform phase" in (ROOT / "infra" / "__main__.py").read_text()


def test_workloads_project_validates_against_the_published_schema():
    import json

    import jsonschema
    schema = json.loads((ROOT / "tests" / "fixtures" / "schemas" / "pulumi-project.schema.json").read_text())
    jsonschema.validate(workloads_project(), schema)


def test_workloads_project_config_repeats_the_platform_defaults():
    declared = {k: v for k, v in (workloads_project().get("config") or {}).items()}
    assert declared == project_config_defaults()


@pytest.mark.parametrize("stack", STACKS)
def test_platform_exports_what_the_workloads_phase_reads(stack):
    p = cached_preview(stack)
    platform, workloads = p.phases
    assert (platform.phase, workloads.phase) == ("platform", "workloads")
    assert CONTRACT | ACCESS[load_stack(stack).cloud] <= set(platform.outputs)
    assert platform.outputs["phase"] == "platform" and workloads.outputs["phase"] == "workloads"
    assert workloads.outputs["platformStack"] == f"organization/gpufleet/{stack}"
    assert "cost" in platform.outputs and "cost" not in workloads.outputs
    assert "releases" in workloads.outputs and "releases" not in platform.outputs


def test_the_stack_reference_answers_only_after_the_platform_phase():
    from types import SimpleNamespace
    mocks = FleetMocks(stack="prod-us-east-1", region="us-east-1")
    args = SimpleNamespace(typ="pulumi:pulumi:StackReference", name="x", inputs={"name": "organization/gpufleet/s"},
                           resource_id="organization/gpufleet/s", custom=True)
    with pytest.raises(UnmockedDataSource, match="preview the platform phase first"):
        mocks.new_resource(args)


def test_unknown_phase_is_refused():
    from gpufleet.infra.program import main
    with pytest.raises(ValueError, match="unknown phase 'all' \\(allowed: platform, workloads\\)"):
        main("all")


def test_a_config_error_stops_before_either_phase_registers_anything():
    from conftest import edited_stack
    p = preview_stack("prod-us-east-1", text=edited_stack("prod-us-east-1", {"gpufleet:gpuPool.maxSize": 0}))
    assert not p.ok and p.resources == [] and [ph.phase for ph in p.phases] == ["platform"]
