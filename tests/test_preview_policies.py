"""`gpufleet preview` runs the compliance pack over what the offline engine registered."""

import json

import pytest

from conftest import edited_stack, scratch_project, shipped_stacks
from gpufleet.cli import main


@pytest.fixture
def root_with(tmp_path):
    """A scratch project holding one edited stack."""
    def make(stack: str, changes: dict):
        (scratch_project(tmp_path) / "stacks").mkdir(exist_ok=True)
        (tmp_path / "stacks" / f"Pulumi.{stack}.yaml").write_text(edited_stack(stack, changes))
        return tmp_path
    return make


def test_every_shipped_stack_passes_with_no_violation(capsys):
    assert main(["preview", "--all", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {s["stack"]: s["policies"] for s in doc["stacks"]} == {s: [] for s in shipped_stacks()}


def test_a_public_china_endpoint_without_filings_fails_the_preview(root_with, capsys):
    root = root_with("prod-cn-hangzhou", {"gpufleet:compliance": {"publicEndpoint": True}})
    assert main(["preview", "--all", "--json", "--root", str(root)]) == 1
    out = capsys.readouterr()
    [stack] = json.loads(out.out)["stacks"]
    assert stack["ok"] is True
    assert sorted(p["policy"] for p in stack["policies"]) == ["cn-content-moderation", "cn-public-endpoint-filings"]
    assert all(set(p) == {"policy", "resource", "resourceType", "level", "message"} for p in stack["policies"])
    assert all(p["level"] == "mandatory" for p in stack["policies"])
    assert out.err == "gpufleet: stack 'prod-cn-hangzhou': mandatory policy violations (see the policy table)\n"


def test_declared_filings_and_moderation_pass(root_with, capsys):
    root = root_with("prod-cn-hangzhou", {"gpufleet:compliance": {
        "publicEndpoint": True, "icpFiling": "浙ICP备2024012345号-1", "genaiFilingId": "Zhejiang-Assistant-202501010001",
        "moderation": {"provider": "aliyun-green", "endpoint": "https://green-cip.cn-hangzhou.aliyuncs.com",
                       "image": "gpufleet-moderation:0.1.0@sha256:" + "0" * 64}}})
    assert main(["preview", "--all", "--json", "--root", str(root)]) == 0
    assert json.loads(capsys.readouterr().out)["stacks"][0]["policies"] == []


def test_table_output_lists_violations(root_with, capsys):
    root = root_with("prod-cn-hangzhou", {"gpufleet:compliance": {"publicEndpoint": True}})
    assert main(["preview", "--all", "--root", str(root)]) == 1
    out = capsys.readouterr().out
    assert "cn-content-moderation" in out and "policies: 2 mandatory, 0 advisory violation(s)" in out
