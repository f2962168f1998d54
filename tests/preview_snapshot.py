"""The normalized shape of `gpufleet preview --all --json` that the snapshot test compares.

Resources are sorted by (type, name): the engine registers them concurrently, so their order
varies from run to run while the set, and every input, must not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping

SNAPSHOT = Path(__file__).resolve().parent / "fixtures" / "preview-snapshot.json"


def normalize_stack(doc: Mapping[str, Any]) -> dict[str, Any]:
    """One stack of the preview document: ok, error, resources (type, name, inputs), outputs."""
    resources = sorted(({"type": r["type"], "name": r["name"], "inputs": r["inputs"]} for r in doc["resources"]),
                       key=lambda r: (r["type"], r["name"]))
    return {"ok": doc["ok"], "error": doc["error"], "resources": resources, "outputs": doc["outputs"]}


def normalize(stacks: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """stack -> normalized stack, through JSON exactly as `preview --json` prints it."""
    plain = json.loads(json.dumps(list(stacks), sort_keys=True, default=str))
    return {s["stack"]: normalize_stack(s) for s in plain}


def dump(snapshot: Mapping[str, Any]) -> str:
    return json.dumps(snapshot, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
