"""Pulumi.yaml is a valid Pulumi project file and points where users expect."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from conftest import ROOT

SCHEMA = ROOT / "tests" / "fixtures" / "schemas" / "pulumi-project.schema.json"


def project() -> dict:
    return yaml.safe_load((ROOT / "Pulumi.yaml").read_text())


def test_pulumi_yaml_validates_against_published_schema():
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(project(), schema)  # raises on any violation


def test_schema_check_catches_a_broken_project_file():
    schema = json.loads(SCHEMA.read_text())
    broken = {**project(), "runtime": {"name": "python", "options": "not-an-object"}}
    broken.pop("name")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_project_fields():
    p = project()
    assert p["name"] == "gpufleet"
    assert p["runtime"]["name"] == "python"
    assert p["main"] == "infra/"
    assert p["stackConfigDir"] == "stacks"
    assert (ROOT / "infra" / "__main__.py").exists()


def test_every_stack_file_is_named_for_its_stack():
    files = sorted((ROOT / "stacks").glob("*.yaml"))
    assert files and all(f.name.startswith("Pulumi.") for f in files)


@pytest.mark.parametrize("requirements", ["requirements.txt", "infra/requirements.txt", "policy/requirements.txt"])
def test_pulumi_install_installs_gpufleet_from_the_project(requirements):
    """`pulumi install` (toolchain pip) runs pip in the file's directory: each names this project."""
    path = ROOT / requirements
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert len(lines) == 1 and lines[0].startswith("-e ")
    target = (path.parent / lines[0][3:]).resolve()
    assert target == ROOT.resolve() and 'name = "gpufleet"' in (target / "pyproject.toml").read_text()
