"""gpufleet installed from its wheel (not editable) works on a copy of a project elsewhere.

The wheel is built from the working tree, installed with --no-deps into a fresh virtualenv
whose dependencies come from the project's own .venv (a path entry, so the editable
install there is not seen), and every command runs from a copy of the project that has
only Pulumi.yaml and its stacks: templates, scenarios and catalogs must come from the
wheel, and every figure must come from the copy's stack files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

pytestmark = pytest.mark.slow
STACK = "prod-us-east-1"


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _source_copy(dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    for name in files:
        src = ROOT / name
        if src.is_file() and not name.startswith(("tests/", "bench/")):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("install")
    source = _source_copy(tmp / "src")
    built = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp / "wheel"), "."],
                 source, dict(os.environ), timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    [wheel] = (tmp / "wheel").glob("gpufleet-*.whl")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp / "venv")], check=True)
    venv_python = tmp / "venv" / "bin" / "python"
    site = Path(_run([str(venv_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     tmp, dict(os.environ)).stdout.strip())
    # the project's dependencies as a plain path entry: its .pth files (the editable gpufleet) stay unread
    (site / "project-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = _run([sys.executable, "-m", "pip", "--python", str(venv_python), "install", "-q", "--no-deps", str(wheel)],
               tmp, dict(os.environ), timeout=300)
    assert pip.returncode == 0, pip.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    stray = tmp / "stray"
    stray.mkdir()
    (stray / "policy.py").write_text("raise RuntimeError('the stray policy module was imported')\n")
    (stray / "infra.py").write_text("raise RuntimeError('the stray infra module was imported')\n")
    env["PYTHONPATH"] = str(stray)
    env["PATH"] = f"{tmp / 'venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return {"tmp": tmp, "wheel": wheel, "python": venv_python, "bin": tmp / "venv" / "bin", "env": env, "site": site}


@pytest.fixture(scope="module")
def project_copy(installed) -> Path:
    copy = installed["tmp"] / "elsewhere" / "my-llm-infra"
    (copy / "stacks").mkdir(parents=True)
    shutil.copy2(ROOT / "Pulumi.yaml", copy / "Pulumi.yaml")
    for path in (ROOT / "stacks").glob("Pulumi.*.yaml"):
        shutil.copy2(path, copy / "stacks" / path.name)
    stack_path = copy / "stacks" / f"Pulumi.{STACK}.yaml"
    doc = yaml.safe_load(stack_path.read_text())
    doc["config"]["gpufleet:gpuPool"]["desiredSize"] = 7
    doc["config"]["gpufleet:slo"].update(ttftP95Ms=1777, minSamples=10)  # minSamples: a few seconds of gate
    doc["config"]["gpufleet:traffic"]["releaseWeights"] = {"blue": 90, "green": 10}
    stack_path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return copy


def test_the_wheel_has_no_generic_top_level_names(installed):
    tops = {name.split("/")[0] for name in zipfile.ZipFile(installed["wheel"]).namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {
        "gpufleet", "gpufleet_k8s", "gpufleet_loadtests", "gpufleet_policy_pack"}
    where = _run([str(installed["python"]), "-c", "import gpufleet, gpufleet.core.assets as a; "
                  "print(gpufleet.__file__); print(a.packaged_dir('k8s'))"], installed["tmp"], installed["env"])
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(str(installed["site"])) for line in where.stdout.splitlines())


def test_preview_all_reflects_the_copy(installed, project_copy):
    done = _run([str(installed["bin"] / "gpufleet"), "preview", "--all", "--json"], project_copy, installed["env"])
    assert done.returncode == 0, done.stderr[-3000:]
    stacks = {s["stack"]: s for s in json.loads(done.stdout)["stacks"]}
    assert len(stacks) == 5 and all(s["ok"] and s["policies"] == [] for s in stacks.values())
    assert stacks[STACK]["outputs"]["gpuPool"]["desiredSize"] == 7


def test_cost_reflects_the_copy(installed, project_copy):
    exe, env = str(installed["bin"] / "gpufleet"), installed["env"]
    copy = _run([exe, "cost", "--stack", STACK, "--format", "json"], project_copy, env)
    shipped = _run([exe, "-C", str(ROOT), "cost", "--stack", STACK, "--format", "json"], project_copy, env)
    assert copy.returncode == shipped.returncode == 0, copy.stderr + shipped.stderr
    monthly = lambda doc: json.loads(doc)["stacks"][0]["totals"]["USD"]["desired"]["monthly"]  # noqa: E731
    assert monthly(copy.stdout) != monthly(shipped.stdout)


def test_loadtest_local_uses_the_copys_slo_and_the_installed_scenarios(installed, project_copy):
    report = installed["tmp"] / "loadtest.json"
    done = _run([str(installed["bin"] / "gpufleet"), "loadtest", "--local", "--stack", STACK, "--rate", "8",
                 "--duration", "3", "--warmup", "0.5", "--min-samples", "5", "--sim", "itl_ms=2", "--quiet",
                 "--json", str(report)], project_copy, installed["env"])
    assert done.returncode in (0, 1), done.stderr[-3000:]  # a verdict, not a usage error or invalid run
    doc = json.loads(report.read_text())
    assert "1777" in json.dumps(doc["slo"])


def test_promote_dry_run_local_reads_the_copys_weights(installed, project_copy):
    done = _run([str(installed["bin"] / "gpufleet"), "promote", "--stack", f"acme/gpufleet/{STACK}", "--to", "green",
                 "--steps", "100", "--dry-run", "--local", "--gate-rate", "8", "--gate-duration", "3", "--settle", "0",
                 "--analysis-interval", "2", "--analysis-iterations", "1",  # the rehearsal analyses live traffic
                 "--sim", "itl_ms=2"], project_copy, installed["env"])
    assert done.returncode in (0, 1), done.stdout + done.stderr[-3000:]
    assert "now:    blue=90, green=10" in done.stdout, done.stdout
    assert (project_copy / ".gpufleet" / "audit" / "promotions.jsonl").is_file()
