"""checkov (Kubernetes framework) finds nothing in the rendered manifests.

checkov runs as a separate command from its own virtualenv (scripts/checkov.sh
creates .venv-checkov on first use: checkov pins packaging<24, which pulumi's
env cannot take). The only skips allowed are the ones written into the
manifests with a reason.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from gpufleet.core.gpu_plugin import render_gpu_plugin
from gpufleet.core.manifests import render_release
from test_gpu_plugin import plugin_params
from test_manifests import CASES, make_params

ROOT = Path(__file__).resolve().parent.parent
# Every skip lives in k8s/nvidia-device-plugin/daemonset.yaml, with its reason.
EXPECTED_SKIPS = {
    ("CKV_K8S_8", "DaemonSet.nvidia-device-plugin.nvidia-device-plugin"),
    ("CKV_K8S_9", "DaemonSet.nvidia-device-plugin.nvidia-device-plugin"),
    ("CKV_K8S_23", "DaemonSet.nvidia-device-plugin.nvidia-device-plugin"),
    ("CKV_K8S_40", "DaemonSet.nvidia-device-plugin.nvidia-device-plugin"),
}


@pytest.mark.slow
def test_checkov_finds_no_failed_checks(tmp_path: Path):
    rendered = {case: render_release(make_params(CASES[case])) for case in sorted(CASES)}
    rendered["nvidia-device-plugin"] = render_gpu_plugin(plugin_params())
    for name, objects in rendered.items():
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False), encoding="utf-8")
    objects = [o for objs in rendered.values() for o in objs]
    # checkov also counts each workload's pod template as a Pod resource.
    workloads = sum(o["kind"] in ("Deployment", "DaemonSet") for o in objects)

    proc = subprocess.run(
        [str(ROOT / "scripts" / "checkov.sh"), "-d", str(tmp_path), "--framework", "kubernetes", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    # checkov exits 1 when a check fails; the JSON says which.
    assert proc.stdout, proc.stderr
    report = json.loads(proc.stdout)
    results, summary = report["results"], report["summary"]
    failed = [(c["check_id"], c["resource"], c["file_path"]) for c in results["failed_checks"]]
    assert failed == []
    assert proc.returncode == 0, proc.stderr
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] == len(objects) + workloads
    assert summary["passed"] > 0
    # The device plugin is rendered once, so each expected skip appears once with its reason.
    skipped = {(c["check_id"], c["resource"]): c["check_result"]["suppress_comment"] for c in results["skipped_checks"]}
    assert set(skipped) == EXPECTED_SKIPS
    assert all(len(reason) > 40 for reason in skipped.values())
