"""The normalized shape of `gpufleet preview --all --json` that the snapshot test compares.

Resources are sorted by (type, name): the engine registers them concurrently, so their order
varies from run to run while the set, and every input, must not.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterable, Mapping

SNAPSHOT = Path(__file__).resolve().parent / "fixtures" / "preview-snapshot.json"


CRD_TYPE = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"


def _inputs(r: Mapping[str, Any]) -> Any:
    """A CRD's spec is a verbatim vendored file (k8s/crds/): its hash stands for its 0.6 MB."""
    if r["type"] != CRD_TYPE or not isinstance(r["inputs"].get("spec"), dict):
        return r["inputs"]
    spec = json.dumps(r["inputs"]["spec"], sort_keys=True).encode()
    return {**r["inputs"], "spec": {"sha256": hashlib.sha256(spec).hexdigest()}}


def normalize_stack(doc: Mapping[str, Any]) -> dict[str, Any]:
    """One stack of the preview document: ok, error, resources (type, name, inputs, phase, dependsOn), outputs."""
    resources = sorted(({"type": r["type"], "name": r["name"], "inputs": _inputs(r), "phase": r.get("phase"),
                         "dependsOn": sorted(r.get("dependsOn") or [])} for r in doc["resources"]),
                       key=lambda r: (r["type"], r["name"]))
    return {"ok": doc["ok"], "error": doc["error"], "resources": resources, "outputs": doc["outputs"]}


def normalize(stacks: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """stack -> normalized stack, through JSON exactly as `preview --json` prints it."""
    plain = json.loads(json.dumps(list(stacks), sort_keys=True, default=str))
    return {s["stack"]: normalize_stack(s) for s in plain}


def dump(snapshot: Mapping[str, Any]) -> str:
    return json.dumps(snapshot, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
