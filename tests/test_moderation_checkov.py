"""checkov (Kubernetes framework) finds nothing in the moderation stage's manifests."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import cached_preview

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_checkov_finds_no_failed_checks_in_the_stage(tmp_path: Path):
    objects = [r.inputs for r in cached_preview("prod-cn-hangzhou").resources
               if r.type.startswith("kubernetes:") and "kind" in r.inputs
               and r.inputs["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "moderation"]
    assert len(objects) >= 12  # two releases: SA, Deployment, Service, PDB, 3 NetworkPolicies each
    (tmp_path / "moderation.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False), encoding="utf-8")
    proc = subprocess.run([str(ROOT / "scripts" / "checkov.sh"), "-d", str(tmp_path), "--framework", "kubernetes",
                           "-o", "json"], capture_output=True, text=True, timeout=1800)
    assert proc.stdout, proc.stderr
    report = json.loads(proc.stdout)
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    assert report["results"]["skipped_checks"] == []
    assert report["summary"]["parsing_errors"] == 0 and report["summary"]["passed"] > 0
