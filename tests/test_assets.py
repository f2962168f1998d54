"""Templates and scenarios: the project's own copy of a file first, else the one installed with gpufleet."""

from __future__ import annotations

from conftest import ROOT, scratch_project
from gpufleet.core.assets import asset, loadtests_dir, packaged_dir


def test_installed_copies_are_found():
    assert (packaged_dir("k8s") / "model-server" / "deployment.yaml").is_file()
    assert (packaged_dir("loadtests") / "workloads.yaml").is_file()
    assert (packaged_dir("policy") / "PulumiPolicy.yaml").is_file()


def test_a_project_file_wins_and_the_rest_come_from_the_installed_copy(tmp_path):
    project = scratch_project(tmp_path / "p")
    own = project / "k8s" / "model-server" / "service.yaml"
    own.parent.mkdir(parents=True)
    own.write_text("# edited\n")
    assert asset("k8s", "model-server/service.yaml", project) == own
    assert asset("k8s", "model-server/deployment.yaml", project) == packaged_dir("k8s") / "model-server" / "deployment.yaml"


def test_a_project_loadtests_tree_is_used_only_when_complete(tmp_path):
    project = scratch_project(tmp_path / "p")
    (project / "loadtests").mkdir()
    (project / "loadtests" / "chat.py").write_text("")
    assert loadtests_dir(project) == packaged_dir("loadtests")  # no workloads.yaml: not a scenario tree
    (project / "loadtests" / "workloads.yaml").write_text("workloads: {}\n")
    assert loadtests_dir(project) == project / "loadtests"


def test_outside_any_project_the_installed_copy_is_used(tmp_path):
    assert asset("k8s", "model-server/service.yaml", tmp_path) == packaged_dir("k8s") / "model-server" / "service.yaml"
    assert loadtests_dir(tmp_path) == packaged_dir("loadtests")


def test_this_repository_uses_its_own_trees():
    assert loadtests_dir(ROOT) == (ROOT / "loadtests").resolve()
