"""Layers run one way: CLI -> program (one entry point) -> core. A forbidden import fails here.

Every import statement of the package is read from the source (also those inside functions
and under TYPE_CHECKING), so a lazy import cannot hide a dependency. docs/architecture.md
draws the same rules.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "gpufleet"
CLI = ("gpufleet.cli", "gpufleet.commands", "gpufleet.promote", "gpufleet.loadtest", "gpufleet.cost", "gpufleet.plan",
       "gpufleet.simserver", "gpufleet.policy_runner", "gpufleet.tokens", "gpufleet.doctor", "gpufleet.stage")
NOT_CORE = ("gpufleet.infra", "gpufleet.preview", "gpufleet.policies", *CLI)
PULUMI = ("pulumi", "pulumi_aws", "pulumi_alicloud", "pulumi_kubernetes", "pulumi_policy")
# What a module of each layer must not import (a prefix matches the module and its submodules).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "gpufleet.core": (*PULUMI, *NOT_CORE),
    "gpufleet.infra": ("gpufleet.preview", "gpufleet.policies", *CLI),
    "gpufleet.policies": ("gpufleet.infra", "gpufleet.preview", *CLI),
    "gpufleet.preview": CLI,
    **{layer: ("gpufleet.infra", "pulumi_aws", "pulumi_alicloud", "pulumi_kubernetes") for layer in CLI},
}
# The offline engine reaches the program only here: its entry point and the SDK adapter.
PREVIEW_MAY_USE = ("gpufleet.infra.entry", "gpufleet.infra.sdk_internals")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, module: str, is_package: bool = False) -> list[tuple[str, int]]:
    """(imported module, line) for every import in `source`, relative imports resolved."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((name, node.lineno))
            found += [(f"{name}.{alias.name}", node.lineno) for alias in node.names]
    return found


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations_in(module: str, imports: list[tuple[str, int]]) -> list[str]:
    out = []
    for layer, forbidden in FORBIDDEN.items():
        if not _matches(module, layer):
            continue
        for name, line in imports:
            if layer == "gpufleet.preview" and name.startswith("gpufleet.infra.") and not any(
                    _matches(name, allowed) for allowed in PREVIEW_MAY_USE):
                out.append(f"{module}:{line} imports {name} (the engine runs the program through gpufleet.infra.entry)")
            for prefix in forbidden:
                if _matches(name, prefix):
                    out.append(f"{module}:{line} imports {name} ({layer} must not import {prefix})")
    return out


def package_violations() -> list[str]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        out += violations_in(module, imports_of(path.read_text(encoding="utf-8"), module, path.name == "__init__.py"))
    return out


def test_no_forbidden_import_in_the_package():
    assert package_violations() == []


@pytest.mark.parametrize("module, source, expected", [
    ("gpufleet.core.config", "def f():\n    import pulumi\n", "gpufleet.core.config:2 imports pulumi"),
    ("gpufleet.core.x", "from gpufleet.commands.cost import run\n", "gpufleet.core.x:1 imports gpufleet.commands"),
    ("gpufleet.core.x", "from ..preview import engine\n", "gpufleet.core.x:1 imports gpufleet.preview"),
    ("gpufleet.infra.program", "from gpufleet.commands import cost\n", "gpufleet.infra.program:1 imports gpufleet.commands"),
    ("gpufleet.infra.program", "from gpufleet.loadtest.gate import Verdict\n", "imports gpufleet.loadtest"),
    ("gpufleet.promote.kube", "from gpufleet.infra.components.traffic import backend_for\n",
     "gpufleet.promote.kube:1 imports gpufleet.infra.components.traffic"),
    ("gpufleet.commands.promote", "import pulumi_kubernetes as k8s\n", "imports pulumi_kubernetes"),
    ("gpufleet.preview.engine", "import gpufleet.infra.components.aws\n", "the engine runs the program through"),
    ("gpufleet.policies.pack", "from gpufleet.infra import program\n", "imports gpufleet.infra"),
])
def test_the_checker_catches_each_kind_of_forbidden_import(module, source, expected):
    found = violations_in(module, imports_of(source, module))
    assert any(expected in v for v in found), found


def test_allowed_imports_pass_the_checker():
    assert violations_in("gpufleet.preview.engine", imports_of(
        "from gpufleet.infra import sdk_internals\nfrom gpufleet.infra.entry import main\n", "gpufleet.preview.engine")) == []
    assert violations_in("gpufleet.commands.promote", imports_of(
        "from pulumi import automation\nfrom gpufleet.core.traffic_names import release_path\n",
        "gpufleet.commands.promote")) == []


def test_the_program_does_not_load_the_cli_or_the_load_tester():
    """`python -X importtime -c "import gpufleet.infra.program"`: what a `pulumi up` process loads."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import gpufleet.infra.program"],
                          capture_output=True, text=True, timeout=120, check=True, cwd=ROOT)
    loaded = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "gpufleet.infra.program" in loaded and "gpufleet.core.config" in loaded
    unwanted = ("gpufleet.loadtest", "gpufleet.commands", "gpufleet.cli", "gpufleet.simserver", "gpufleet.promote",
                "gpufleet.cost", "gpufleet.preview", "locust", "gevent", "aiohttp", "rich", "alibabacloud_alidns20150109")
    assert sorted(m for m in loaded if any(_matches(m, u) for u in unwanted)) == []


def test_the_pulumi_entry_runs_the_program_through_the_entry_point():
    """`infra/__main__.py` is what `pulumi up` runs (Pulumi.yaml main: infra/)."""
    import runpy

    from gpufleet.preview.engine import preview_stack

    source = (ROOT / "infra" / "__main__.py").read_text()
    assert "from gpufleet.infra.entry import main" in source
    result = preview_stack("prod-us-east-1", program=lambda: runpy.run_path(str(ROOT / "infra" / "__main__.py"),
                                                                          run_name="__main__"), root=ROOT)
    assert result.ok and any(r.type == "gpufleet:aws:GpuCluster" for r in result.resources)


SYS_PATH_ALLOWED = {"tests/conftest.py"}


def _edits_sys_path(source: str) -> bool:
    for node in ast.walk(ast.parse(source)):
        target = node.func.value if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) else None
        if isinstance(target, ast.Attribute) and target.attr == "path" and getattr(target.value, "id", "") == "sys":
            return True
    return False


def test_nothing_edits_sys_path_outside_the_tests_conftest():
    assert _edits_sys_path("import sys\nsys.path.insert(0, 'x')\n") and not _edits_sys_path("print(1)\n")
    edits = sorted(str(p.relative_to(ROOT)) for folder in ("gpufleet", "infra", "policy", "loadtests", "tests", "bench")
                   for p in (ROOT / folder).rglob("*.py") if _edits_sys_path(p.read_text(encoding="utf-8")))
    assert set(edits) <= SYS_PATH_ALLOWED, edits
