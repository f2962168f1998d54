"""The bad-input corpus (tests/bad_inputs/): every malformed stack file or stack name gets exit 2 and
one exact line from every command that reads stacks, no traceback, and nothing registered.

Cases live in `tests/bad_inputs/cases.yaml` (see the README there); add one for every new bug.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT, edited_stack, stack_text
from gpufleet.cli import main

CORPUS = Path(__file__).parent / "bad_inputs"
CASES: list[dict[str, Any]] = yaml.safe_load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))
COMMANDS = ("preview", "cost", "loadtest", "promote")
PREFIX = {"preview": "gpufleet: ", "cost": "gpufleet cost: ", "loadtest": "error: ", "promote": "gpufleet promote: "}
# Cases refused while finding the project's stack (`by: project`): before any preview starts.
PROJECT_PREFIX = {**PREFIX, "preview": "gpufleet preview: "}


def case_bytes(case: dict[str, Any]) -> bytes:
    """The stack file a case hands the commands."""
    if "file" in case:
        return (CORPUS / case["file"]).read_bytes()
    text = edited_stack(case["base"], case["edit"]) if "edit" in case else stack_text(case["base"])
    if "replace" in case:
        old, new = case["replace"]
        assert text.count(old) == 1, f"{case['id']}: {old!r} must occur exactly once in {case['base']}"
        text = text.replace(old, new)
    return text.encode("utf-8")


def build_project(case: dict[str, Any], tmp: Path) -> Path:
    """A project root: Pulumi.yaml, the case's stack file and any sibling stacks."""
    root = tmp / "project"
    stacks = root / "stacks"
    stacks.mkdir(parents=True)
    (root / "Pulumi.yaml").write_bytes((ROOT / "Pulumi.yaml").read_bytes())
    name = str(case.get("name", case["base"]))
    data = case_bytes(case)
    if case.get("symlink_outside"):
        (root / "outside.yaml").write_bytes(data)
        (stacks / f"Pulumi.{name}.yaml").symlink_to(root / "outside.yaml")
    elif "/" not in name and name not in (".", ".."):
        (stacks / f"Pulumi.{name}.yaml").write_bytes(data)
    if name != case["base"]:  # the project has a real stack beside the bad name
        (stacks / f"Pulumi.{case['base']}.yaml").write_text(stack_text(case["base"]), encoding="utf-8")
    for other, edits in (case.get("others") or {}).items():
        (stacks / f"Pulumi.{other}.yaml").write_text(edited_stack(other, edits), encoding="utf-8")
    return root


def argv(command: str, name: str, root: Path, tmp: Path) -> list[str]:
    """Each command pointed at the case's project with -C, as a user in another directory would."""
    if command == "preview":
        return ["preview", "-C", str(root), "--stack", name, "--json"]
    if command == "cost":
        return ["cost", "-C", str(root), "--stack", name]
    if command == "loadtest":
        return ["loadtest", "-C", str(root), "--stack", name, "--quiet"]
    return ["promote", "-C", str(root), "--stack", name, "--to", "green", "--dry-run", "--local",
            "--audit-log", str(tmp / "audit.jsonl"), "--lock-dir", str(tmp / "locks")]


def run_case(case: dict[str, Any], command: str, tmp: Path, monkeypatch: pytest.MonkeyPatch,
             capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    root = build_project(case, tmp)
    code = main(argv(command, str(case.get("name", case["base"])), root, tmp))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


PARAMS = [pytest.param(case, command, id=f"{case['id']}-{command}")
          for case in CASES for command in case.get("commands", COMMANDS)]


def test_corpus_ids_are_unique_and_complete() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 30
    assert all(c.get("error") and c["error"] != "TODO" for c in CASES)


@pytest.mark.parametrize("case, command", PARAMS)
def test_bad_input_gets_one_line_and_exit_2(case: dict[str, Any], command: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_case(case, command, tmp_path, monkeypatch, capsys)
    assert "Traceback" not in out + err
    by_project = case.get("by") == "project"
    assert err == (PROJECT_PREFIX if by_project else PREFIX)[command] + case["error"] + "\n"
    assert code == 2
    if command == "preview" and not by_project:
        (stack,) = json.loads(out)["stacks"]
        assert stack["ok"] is False and stack["resources"] == [] and stack["outputs"] == {}
    else:
        assert out == ""
    assert not (tmp_path / "audit.jsonl").exists()
