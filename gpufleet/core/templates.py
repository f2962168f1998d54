"""The template engine under `k8s/`: three YAML tags, so substitution is structural, never textual.

  !param NAME        the value of NAME (any type); None drops the key or list item
  !format "TEXT"     TEXT.format(**values)
  !merge [A, B, ...] the mappings merged left to right

Values that only exist at deploy time (a bucket name, a role ARN) can be passed
as `{{token}}` inside strings; the Pulumi component binds them to Outputs.
Used by the model-server renderer (`gpufleet.core.manifests`) and the in-cluster
load-test manifests (`gpufleet.loadtest.k8s`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_TOKEN = re.compile(r"\{\{([a-z_][a-z0-9_]*)\}\}")


@dataclass(frozen=True)
class _Param:
    name: str


@dataclass(frozen=True)
class _Format:
    text: str


@dataclass(frozen=True)
class _Merge:
    parts: tuple[Any, ...]


class _TemplateLoader(yaml.SafeLoader):
    """SafeLoader plus the three template tags."""


_TemplateLoader.add_constructor("!param", lambda loader, node: _Param(loader.construct_scalar(node)))
_TemplateLoader.add_constructor("!format", lambda loader, node: _Format(loader.construct_scalar(node)))
_TemplateLoader.add_constructor(
    "!merge", lambda loader, node: _Merge(tuple(loader.construct_sequence(node, deep=True)))
)


def load_template(path: Path) -> list[Any]:
    """Every document of a template file, tags unresolved."""
    with open(path, encoding="utf-8") as fh:
        return [doc for doc in yaml.load_all(fh, Loader=_TemplateLoader) if doc is not None]


def render_template(path: Path, values: Mapping[str, Any]) -> list[Any]:
    """Load a template and resolve its tags against `values`."""
    try:
        return [_resolve(doc, values) for doc in load_template(path)]
    except KeyError as exc:
        raise ValueError(f"template {path.name} uses unknown parameter {exc.args[0]!r}") from None


_DROP = object()


def _resolve(node: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(node, _Param):
        value = values[node.name]
        # Copied so that no two objects share (and can mutate) one dict.
        return _DROP if value is None else copy.deepcopy(value)
    if isinstance(node, _Format):
        return node.text.format_map(values)
    if isinstance(node, _Merge):
        merged: dict[str, Any] = {}
        for part in node.parts:
            resolved = _resolve(part, values)
            if resolved is not _DROP:
                merged.update(resolved)
        return merged
    if isinstance(node, dict):
        out = {k: _resolve(v, values) for k, v in node.items()}
        return {k: v for k, v in out.items() if v is not _DROP}
    if isinstance(node, list):
        return [v for v in (_resolve(item, values) for item in node) if v is not _DROP]
    return node


def tokens(text: str) -> list[str]:
    """The `{{token}}` names in a string, in order."""
    return _TOKEN.findall(text)


def substitute_tokens(text: str, values: Mapping[str, str]) -> str:
    """Replace every `{{token}}` with its value."""
    return _TOKEN.sub(lambda m: values[m.group(1)], text)
