"""`gpufleet preview`: the JSON document, the summary, exit codes."""

import json
import shutil

import pytest

from conftest import ROOT, edited_stack, scratch_project, shipped_stacks
from gpufleet.cli import main


def test_preview_all_json_lists_every_stack_with_resources(capsys):
    assert main(["preview", "--all", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [s["stack"] for s in doc["stacks"]] == shipped_stacks()
    for s in doc["stacks"]:
        assert set(s) == {"stack", "ok", "error", "resources", "outputs", "policies", "observability", "phases"}
        assert s["ok"] is True and s["error"] is None
        assert all(set(r) == {"type", "name", "inputs", "phase", "urn", "parent", "provider", "dependsOn", "refs"}
                   for r in s["resources"])
        assert s["outputs"]["kubeconfig"] == "[secret]"
        # Both phases of every stack: platform (project gpufleet) then workloads (gpufleet-workloads).
        assert [(p["phase"], p["project"], p["ok"]) for p in s["phases"]] == [
            ("platform", "gpufleet", True), ("workloads", "gpufleet-workloads", True)]
        assert [p["resources"] for p in s["phases"]] == [
            sum(r["phase"] == phase for r in s["resources"]) for phase in ("platform", "workloads")]


def test_preview_one_stack_prints_counts_pool_and_exports(capsys):
    assert main(["preview", "--stack", "prod-cn-beijing"]) == 0
    out = capsys.readouterr().out
    assert "alicloud:cs/managedKubernetes:ManagedKubernetes" in out
    assert "ecs.gn7e-c16g1.16xlarge" in out and "A100-80GB" in out
    assert "weightsBucketUrl" in out and "[secret]" in out


@pytest.fixture
def broken_stack_dir(tmp_path, monkeypatch):
    """A copy of the project's stacks with one broken stack added."""
    stacks = scratch_project(tmp_path) / "stacks"
    shutil.copytree(ROOT / "stacks", stacks)
    (stacks / "Pulumi.prod-cn-hongkong.yaml").write_text(
        edited_stack("prod-cn-hangzhou", {"alicloud:region": "cn-hongkong"}))
    monkeypatch.chdir(tmp_path)  # the project is found from the current directory, as pulumi finds it
    return tmp_path


def test_invalid_stack_exits_2_and_names_the_key(broken_stack_dir, capsys):
    assert main(["preview", "--all", "--json"]) == 2
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    bad = [s for s in doc["stacks"] if not s["ok"]]
    assert [s["stack"] for s in bad] == ["prod-cn-hongkong"]
    assert bad[0]["resources"] == [] and bad[0]["outputs"] == {}
    assert bad[0]["error"].startswith("stack 'prod-cn-hongkong': alicloud:region: jurisdiction 'cn' needs a mainland China region")
    assert captured.err.strip().splitlines() == [f"gpufleet: {bad[0]['error']}"]
    assert len([s for s in doc["stacks"] if s["ok"]]) == len(shipped_stacks()) - 1  # the good ones still preview


def test_stack_and_all_are_exclusive():
    with pytest.raises(SystemExit) as info:
        main(["preview", "--all", "--stack", "prod-us-east-1"])
    assert info.value.code == 2
