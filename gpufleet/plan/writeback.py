"""`gpufleet plan --write`: put the plan into the stack file, changing nothing else.

The file is edited with ruamel.yaml's round-trip mode, which keeps comments,
key order, quoting and flow style. Two guards make "nothing else" a checked
fact rather than a hope: the indentation is the one that reproduces the
untouched file byte for byte, and after the edit every changed line must be
one of the edited keys. A new key (a release's `minReplicas` the file does not
have yet) goes right after a named sibling, so adding keys later (e.g. an
autoscaling block) is one more `Change`.
"""

from __future__ import annotations

import difflib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from gpufleet.plan.fleet import FleetPlan

# (mapping, sequence, offset) indentations to try, most common first.
_INDENTS = ((2, 4, 2), (2, 2, 0), (2, 2, 2), (4, 4, 2), (4, 6, 4), (4, 4, 0))


class WriteError(ValueError):
    """The stack file cannot be edited safely; the message is one line."""


@dataclass(frozen=True)
class Change:
    """Set `config.<path>` to `value`; when the key is missing, insert it after `after`."""

    path: tuple[str, ...]
    value: int | str | float | bool
    after: str | None = None

    @property
    def key(self) -> str:
        return f"{self.path[0]}." + ".".join(self.path[1:]) if len(self.path) > 1 else self.path[0]


def fleet_changes(release: str, fleet: FleetPlan, in_autoscaling: frozenset[str] = frozenset()) -> list[Change]:
    """The keys a plan owns: the GPU pool's sizes and the release's replica bounds.

    A bound the release already sets under `autoscaling` (`in_autoscaling`, e.g. {"maxReplicas"})
    is written there, since the stack's rules allow each bound in one place only.
    """
    pool, rel = "gpufleet:gpuPool", ("gpufleet:releases", release)

    def bound(name: str, value: int, after: str) -> Change:
        return Change((*rel, "autoscaling", name), value) if name in in_autoscaling else Change((*rel, name), value, after)

    return [
        Change((pool, "minSize"), fleet.pool_min),
        Change((pool, "desiredSize"), fleet.pool_desired),
        Change((pool, "maxSize"), fleet.pool_max),
        Change((*rel, "replicas"), fleet.replicas, after="image"),
        bound("minReplicas", fleet.min_replicas, "replicas"),
        bound("maxReplicas", fleet.max_replicas, "minReplicas"),
    ]


def _yaml(indent: tuple[int, int, int]) -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=indent[0], sequence=indent[1], offset=indent[2])
    return y


def _dump(y: YAML, doc: Any) -> str:
    out = io.StringIO()
    y.dump(doc, out)
    return out.getvalue()


def _round_tripper(text: str, where: str) -> YAML:
    for indent in _INDENTS:
        y = _yaml(indent)
        if _dump(y, y.load(text)) == text:
            return y
    raise WriteError(f"{where}: cannot edit without reformatting it (ruamel.yaml does not reproduce it byte for byte)")


def _set(doc: Any, change: Change, where: str) -> None:
    node = doc.get("config") if isinstance(doc, CommentedMap) else None
    for part in change.path[:-1]:
        if not isinstance(node, CommentedMap) or part not in node:
            raise WriteError(f"{where}: {change.key}: the file has no '{part}' mapping to put it in")
        node = node[part]
    if not isinstance(node, CommentedMap):
        raise WriteError(f"{where}: {change.key}: the parent is not a mapping")
    leaf = change.path[-1]
    if leaf in node:
        node[leaf] = change.value
        return
    keys = list(node.keys())
    position = keys.index(change.after) + 1 if change.after in keys else len(keys)
    node.insert(position, leaf, change.value)


def _changed_lines_ok(old: str, new: str, changes: Sequence[Change]) -> bool:
    """Every line the edit added or removed carries one of the edited keys."""
    leaves = {c.path[-1] for c in changes}
    pattern = re.compile(r"^\s*(?:- )?([A-Za-z0-9_:.-]+)\s*:")
    matcher = difflib.SequenceMatcher(a=old.splitlines(), b=new.splitlines(), autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        for line in matcher.a[i1:i2] + matcher.b[j1:j2]:
            match = pattern.match(line)
            if not match or match.group(1) not in leaves:
                return False
    return True


def apply_changes(text: str, changes: Sequence[Change], where: str = "stack file") -> str:
    """The file's text with `changes` applied; WriteError if anything else would move."""
    y = _round_tripper(text, where)
    doc = y.load(text)
    for change in changes:
        _set(doc, change, where)
    new = _dump(y, doc)
    if not _changed_lines_ok(text, new, changes):
        raise WriteError(f"{where}: the edit would change lines other than the planned keys; edit it by hand")
    return new


def unified_diff(old: str, new: str, name: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        fromfile=f"a/{name}", tofile=f"b/{name}"))
