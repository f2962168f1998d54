"""Small readers over a StackPreview for assertions."""

from __future__ import annotations


def of_type(preview, typ: str) -> list:
    return [r for r in preview.resources if r.type == typ]


def one(preview, typ: str):
    found = of_type(preview, typ)
    assert len(found) == 1, f"expected one {typ}, found {len(found)}"
    return found[0].inputs


def by_suffix(preview, typ: str, suffix: str):
    found = [r for r in of_type(preview, typ) if r.name.endswith(suffix)]
    assert len(found) == 1, f"expected one {typ} named *{suffix}, found {[r.name for r in of_type(preview, typ)]}"
    return found[0].inputs
