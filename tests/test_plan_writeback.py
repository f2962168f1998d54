"""`--write`: the stack file changes only in the planned keys, byte for byte elsewhere."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

from conftest import ROOT as PROJECT_ROOT
from gpufleet.core.config import list_stacks, load_stack
from gpufleet.plan.fleet import FleetInputs, plan_fleet
from gpufleet.plan.limits import PlanRefused
from gpufleet.plan.planner import Demand, plan_stack
from gpufleet.plan.writeback import Change, WriteError, apply_changes, fleet_changes, unified_diff

STACKS = list_stacks()


def _fleet(knee=36.0, peak=40.0, avg=20.0):
    return plan_fleet(FleetInputs(knee, peak, avg, 0.3, "zone", 3, 1, 1))


def _changed(old: str, new: str) -> list[tuple[str, str]]:
    """(removed, added) line pairs; the edit is value-for-value, so lines pair up in order."""
    removed = [l for l in difflib.ndiff(old.splitlines(), new.splitlines()) if l.startswith("- ")]
    added = [l for l in difflib.ndiff(old.splitlines(), new.splitlines()) if l.startswith("+ ")]
    return list(zip(removed, added))


@pytest.mark.parametrize("stack", STACKS)
def test_round_trip_is_byte_for_byte_outside_the_changed_keys(stack):
    text = (PROJECT_ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8")
    release = next(iter(load_stack(stack).releases))
    assert apply_changes(text, []) == text  # no change: identical bytes
    new = apply_changes(text, fleet_changes(release, _fleet()))
    old_lines, new_lines = text.splitlines(keepends=True), new.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    keys = {"minSize", "desiredSize", "maxSize", "replicas", "minReplicas", "maxReplicas"}
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            for line in old_lines[i1:i2] + new_lines[j1:j2]:
                assert line.strip().split(":")[0] in keys, line
    # every untouched line is there, in order, byte for byte: at most the six planned keys differ
    assert sum(i2 - i1 for tag, i1, i2, _, _ in matcher.get_opcodes() if tag == "equal") >= len(old_lines) - 6
    assert load_stack(stack, text=new).gpu_pool.max_size == _fleet().pool_max


def test_exact_diff_on_us_east_blue():
    text = (PROJECT_ROOT / "stacks" / "Pulumi.prod-us-east-1.yaml").read_text(encoding="utf-8")
    new = apply_changes(text, fleet_changes("blue", _fleet()))
    assert _changed(text, new) == [
        ("-     desiredSize: 4", "+     desiredSize: 2"),
        ("-     maxSize: 16", "+     maxSize: 3"),
        ("-       replicas: 4", "+       replicas: 2"),
        ("-       maxReplicas: 12", "+       maxReplicas: 3"),
    ]
    assert "# The load-test gate" in new and "releaseWeights:" in new


def test_missing_keys_are_inserted_after_their_sibling():
    text = (PROJECT_ROOT / "stacks" / "Pulumi.prod-us-east-1.yaml").read_text(encoding="utf-8")
    new = apply_changes(text, [Change(("gpufleet:releases", "green", "minReplicas"), 1, after="replicas")])
    green = new[new.index("    green:"):]
    assert green.splitlines()[3:6] == ["      replicas: 1", "      minReplicas: 1", "      maxReplicas: 3"]
    assert unified_diff(text, new, "x.yaml").count("\n+      ") == 1


def test_comments_and_quotes_survive():
    text = ('# head\nconfig:\n  aws:region: us-east-1  # where\n  gpufleet:gpuPool:\n    instanceType: "g6e.2xlarge"\n'
            '    minSize: 2   # keep two\n    desiredSize: 4\n    maxSize: 16\n')
    new = apply_changes(text, [Change(("gpufleet:gpuPool", "minSize"), 3)])
    assert new == text.replace("minSize: 2   # keep two", "minSize: 3   # keep two")


def test_missing_parent_is_refused_in_one_line():
    with pytest.raises(WriteError) as exc:
        apply_changes("config:\n  aws:region: us-east-1\n", [Change(("gpufleet:gpuPool", "maxSize"), 3)],
                      where="stack 'x': Pulumi.x.yaml")
    assert str(exc.value) == "stack 'x': Pulumi.x.yaml: gpufleet:gpuPool.maxSize: the file has no 'gpufleet:gpuPool' mapping to put it in"


def _scratch_root(tmp_path: Path) -> Path:
    shutil.copytree(PROJECT_ROOT / "stacks", tmp_path / "stacks")
    shutil.copy(PROJECT_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    return tmp_path


def test_plan_stack_refuses_more_nodes_than_the_cloud_holds(tmp_path):
    root = _scratch_root(tmp_path)
    cfg = load_stack("prod-us-east-1", root=root)
    with pytest.raises(PlanRefused) as exc:
        plan_stack(cfg, "blue", knee_rps=1.0, knee_tokens_per_s=100.0, demand=Demand(4000.0, 4000.0), root=root)
    assert str(exc.value) == (
        "stack 'prod-us-east-1': gpufleet:gpuPool.maxSize: the plan needs 7803 g6e.2xlarge nodes, more than one "
        "EKS cluster may hold (5000: Kubernetes supports at most 5,000 nodes per cluster; the GPU nodes come from "
        "Karpenter NodePools, which have no node cap of their own); lower --peak-rps, spread the peak over more "
        "stacks, or use larger GPU nodes")


def test_ack_node_pool_ceiling(tmp_path):
    root = _scratch_root(tmp_path)
    cfg = load_stack("prod-cn-hangzhou", root=root)
    with pytest.raises(PlanRefused) as exc:
        plan_stack(cfg, "blue", knee_rps=1.0, knee_tokens_per_s=100.0, demand=Demand(1600.0, 1600.0), root=root)
    assert "more than one ACK node pool (an Auto Scaling group) may hold (2000: an Auto Scaling group's MaxSize " \
           "accepts 0 to 2000 instances)" in str(exc.value)


def test_bounds_under_autoscaling_are_written_there(tmp_path):
    root = _scratch_root(tmp_path)
    path = root / "stacks" / "Pulumi.prod-us-east-1.yaml"
    text = path.read_text().replace("      minReplicas: 2\n      maxReplicas: 12\n",
                                    "      autoscaling:\n        minReplicas: 2\n        maxReplicas: 12\n")
    path.write_text(text)
    cfg = load_stack("prod-us-east-1", root=root)
    plan = plan_stack(cfg, "blue", knee_rps=36.0, knee_tokens_per_s=4500.0, demand=Demand(40.0, 20.0), root=root)
    blue = plan.new_text[plan.new_text.index("    blue:"):plan.new_text.index("    green:")].splitlines()
    assert blue[-3:] == ["      autoscaling:", "        minReplicas: 2", "        maxReplicas: 3"]
    assert load_stack("prod-us-east-1", text=plan.new_text, root=root).releases["blue"].effective_max_replicas == 3


def test_planned_stack_file_previews_cleanly(tmp_path):
    """What --write would write passes the offline preview and the mandatory policies."""
    from gpufleet.plan.verify import preview_problem

    root = _scratch_root(tmp_path)
    cfg = load_stack("prod-us-east-1", root=root)
    plan = plan_stack(cfg, "blue", knee_rps=36.0, knee_tokens_per_s=4500.0, demand=Demand(40.0, 20.0), root=root)
    assert plan.new_text != plan.old_text
    assert preview_problem("prod-us-east-1", plan.new_text, root) is None
    broken = plan.new_text.replace("maxSize: 6", "maxSize: 1", 1)
    assert preview_problem("prod-us-east-1", broken, root).startswith("stack 'prod-us-east-1': gpufleet:")
