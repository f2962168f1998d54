"""The shipped stacks preview to exactly the recorded resources, inputs and outputs.

A change that alters what a stack builds must be deliberate: regenerate the fixture with

    UPDATE_SNAPSHOT=1 .venv/bin/python -m pytest -q tests/test_preview_snapshot.py

and commit `tests/fixtures/preview-snapshot.json` with the change, so the diff shows it.
"""

from __future__ import annotations

import copy
import json
import os

from conftest import cached_preview, shipped_stacks
from preview_snapshot import SNAPSHOT, dump, normalize


def _first_difference(expected: dict, actual: dict) -> str:
    for stack in sorted(set(expected) | set(actual)):
        if stack not in actual or stack not in expected:
            return f"stack {stack!r} only in {'snapshot' if stack in expected else 'current preview'}"
        want, got = expected[stack], actual[stack]
        for key in ("ok", "error", "outputs"):
            if want[key] != got[key]:
                return f"stack {stack!r}: {key} differs"
        names = lambda s: {(r["type"], r["name"]): r["inputs"] for r in s["resources"]}  # noqa: E731
        w, g = names(want), names(got)
        for missing in sorted(set(w) - set(g)):
            return f"stack {stack!r}: resource {missing} is gone"
        for added in sorted(set(g) - set(w)):
            return f"stack {stack!r}: resource {added} is new"
        for key in sorted(w):
            if w[key] != g[key]:
                return f"stack {stack!r}: inputs of {key} differ"
    return "no difference"


def test_shipped_stacks_preview_as_recorded():
    current = normalize(cached_preview(s).as_json() for s in shipped_stacks())
    if os.environ.get("UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(dump(current), encoding="utf-8")
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert current == expected, (_first_difference(expected, current)
                                 + "; if intended: UPDATE_SNAPSHOT=1 pytest tests/test_preview_snapshot.py")


def test_the_snapshot_catches_a_changed_input():
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    stack = sorted(expected)[0]
    changed = copy.deepcopy(expected)
    changed[stack]["resources"][0]["inputs"]["__probe__"] = 1
    assert changed != expected
    assert _first_difference(expected, changed).startswith(f"stack {stack!r}: inputs of")
