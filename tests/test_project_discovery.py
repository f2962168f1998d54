"""Every command finds the user's project as `pulumi` does: Pulumi.yaml upward from the current
directory or from -C DIR, its stackConfigDir and config, org/project/stack names."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, edited_stack
from gpufleet.cli import main
from gpufleet.core.config import list_stacks, load_stack, project_config_defaults, stack_file
from gpufleet.core.project import ProjectError, find_project, short_stack_name


def make_project(path: Path, *, config_dir: str | None = "stacks", name: str = "gpufleet",
                 config: dict | None = None, ext: str = ".yaml") -> Path:
    doc = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    doc["name"] = name
    if config_dir is None:
        doc.pop("stackConfigDir", None)
    else:
        doc["stackConfigDir"] = config_dir
    if config is not None:
        doc["config"] = config
    path.mkdir(parents=True, exist_ok=True)
    (path / f"Pulumi{ext}").write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def add_stack(project: Path, config_dir: str, stack: str, changes: dict | None = None, ext: str = ".yaml") -> Path:
    directory = project / config_dir
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"Pulumi.{stack}{ext}"
    target.write_text(edited_stack(stack, changes or {}))
    return target


def test_found_from_a_subdirectory(tmp_path, monkeypatch):
    project = make_project(tmp_path / "proj")
    add_stack(project, "stacks", "prod-us-east-1")
    deep = project / "infra" / "deeper"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    found = find_project()
    assert found.root == project.resolve() and found.name == "gpufleet"
    assert list_stacks() == ["prod-us-east-1"]
    assert stack_file("prod-us-east-1") == (project / "stacks" / "Pulumi.prod-us-east-1.yaml").resolve()


def test_stack_config_dir_is_read_and_defaults_to_the_project_dir(tmp_path):
    custom = make_project(tmp_path / "a", config_dir="config/stacks")
    add_stack(custom, "config/stacks", "prod-us-east-1")
    assert list_stacks(custom) == ["prod-us-east-1"]
    plain = make_project(tmp_path / "b", config_dir=None)
    add_stack(plain, ".", "prod-cn-beijing")
    assert list_stacks(plain) == ["prod-cn-beijing"]


def test_pulumi_yml_uses_yml_stack_files(tmp_path):
    project = make_project(tmp_path / "p", ext=".yml")
    add_stack(project, "stacks", "prod-us-east-1", ext=".yml")
    assert find_project(project).file.name == "Pulumi.yml"
    assert list_stacks(project) == ["prod-us-east-1"]


def test_project_config_comes_from_that_project(tmp_path):
    project = make_project(tmp_path / "p", config={"gpufleet:cnyPerUsd": {"type": "string", "default": "7.25"},
                                                   "gpufleet:fxAsOf": "2026-10-01"})
    add_stack(project, "stacks", "prod-cn-hangzhou")
    assert project_config_defaults(project) == {"gpufleet:cnyPerUsd": "7.25", "gpufleet:fxAsOf": "2026-10-01"}
    cfg = load_stack("prod-cn-hangzhou", root=project)
    assert str(cfg.cny_per_usd) == "7.25" and cfg.fx_as_of.isoformat() == "2026-10-01"


@pytest.mark.parametrize("name", ["prod-us-east-1", "gpufleet/prod-us-east-1", "acme/gpufleet/prod-us-east-1"])
def test_qualified_stack_names(name):
    assert short_stack_name(name, "gpufleet") == "prod-us-east-1"
    assert load_stack(name, root=ROOT).stack == "prod-us-east-1"


@pytest.mark.parametrize("name, message", [
    ("acme/other/prod-us-east-1", "stack 'acme/other/prod-us-east-1': project 'other' is not this project "
                                  "'gpufleet' (Pulumi.yaml name); run gpufleet in that project's directory or pass -C DIR"),
    ("a/b/c/d", "stack 'a/b/c/d': a stack is named 'stack', 'project/stack' or 'org/project/stack'"),
    ("acme//prod", "stack 'acme//prod': a stack is named 'stack', 'project/stack' or 'org/project/stack'"),
    ("prod us", "stack 'prod us': a stack name has 1-100 letters, digits, '-', '_' or '.'"),
])
def test_bad_stack_names_fail_in_one_line(name, message):
    with pytest.raises(ProjectError) as info:
        short_stack_name(name, "gpufleet")
    assert str(info.value) == message


def test_outside_a_project_every_command_says_how_to_fix(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    expected = (f"no Pulumi project (Pulumi.yaml) in {tmp_path.resolve()} or any parent directory; "
                "run gpufleet inside your project or pass -C DIR")
    for argv, prefix in ((["preview", "--all"], "gpufleet preview: "), (["cost"], "gpufleet cost: "),
                         (["promote", "--stack", "s", "--to", "green", "--dry-run", "--local"], "gpufleet promote: ")):
        assert main(argv) == 2
        assert capsys.readouterr().err == prefix + expected + "\n"
    assert main(["loadtest", "--stack", "s", "--local"]) == 2
    assert capsys.readouterr().err == "error: " + expected + "\n"


def test_broken_project_file_fails_in_one_line(tmp_path, capsys):
    (tmp_path / "Pulumi.yaml").write_text("name: [unclosed\n")
    assert main(["-C", str(tmp_path), "preview", "--all"]) == 2
    assert capsys.readouterr().err == f"gpufleet preview: {tmp_path.resolve() / 'Pulumi.yaml'}: not valid YAML (line 2); fix the project file\n"


def test_dash_c_before_or_after_the_command_and_cwd_restored(tmp_path, capsys):
    project = make_project(tmp_path / "copy")
    add_stack(project, "stacks", "prod-us-east-1", {"gpufleet:gpuPool.desiredSize": 3})
    before = Path.cwd()
    for argv in (["-C", str(project), "preview", "--all", "--json"],
                 ["preview", "--all", "--json", "--cwd", str(project)],
                 ["preview", "--stack", "acme/gpufleet/prod-us-east-1", "--json", "--root", str(project / "stacks")]):
        assert main(argv) == 0
        doc = json.loads(capsys.readouterr().out)
        assert [s["stack"] for s in doc["stacks"]] == ["prod-us-east-1"]
        assert doc["stacks"][0]["outputs"]["gpuPool"]["desiredSize"] == 3  # the copy's value, not the checkout's
        assert Path.cwd() == before


def test_dash_c_to_a_missing_directory(tmp_path, capsys):
    assert main(["-C", str(tmp_path / "nope"), "cost"]) == 2
    assert capsys.readouterr().err == f"gpufleet: -C {tmp_path / 'nope'}: No such file or directory; pass an existing project directory\n"


def test_cost_and_loadtest_stack_read_the_copy(tmp_path, monkeypatch, capsys):
    project = make_project(tmp_path / "copy")
    shutil.copytree(ROOT / "stacks", project / "stacks", dirs_exist_ok=True)
    add_stack(project, "stacks", "prod-us-east-1", {"gpufleet:gpuPool.desiredSize": 5})
    monkeypatch.chdir(project)
    assert main(["cost", "--stack", "acme/gpufleet/prod-us-east-1", "--format", "json"]) == 0
    copy_cost = json.loads(capsys.readouterr().out)["stacks"][0]
    monkeypatch.chdir(ROOT)
    assert main(["cost", "--stack", "prod-us-east-1", "--format", "json"]) == 0
    shipped_cost = json.loads(capsys.readouterr().out)["stacks"][0]
    assert copy_cost["stack"] == shipped_cost["stack"] == "prod-us-east-1"
    assert copy_cost["totals"]["USD"]["desired"]["monthly"] != shipped_cost["totals"]["USD"]["desired"]["monthly"]


def test_the_shipped_project_still_works_from_the_repository_root(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert find_project().stack_config_dir == (ROOT / "stacks").resolve()
    assert len(list_stacks()) == 5
