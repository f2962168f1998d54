"""Find the user's Pulumi project the way `pulumi` does, so every command works on it.

`pulumi` looks for `Pulumi.yaml` (or `Pulumi.yml`) in the current directory and then in
each parent; `-C/--cwd DIR` makes it start in DIR instead. Stack files live in the
project's `stackConfigDir` (default: next to `Pulumi.yaml`), named `Pulumi.<stack>.<ext>`
with the project file's extension, and project-wide config comes from its `config:` map.
A stack may be named `stack`, `project/stack` or `org/project/stack`; files and the
program only ever see the short name. Nothing here knows where gpufleet itself is
installed: the user's project is the only source of stack configuration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

PROJECT_FILES = ("Pulumi.yaml", "Pulumi.yml")
# Pulumi's own rule for a stack's short name.
STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


class ProjectError(ValueError):
    """No usable Pulumi project here, or a stack name that does not belong to it; str() is one line."""


@dataclass(frozen=True)
class Project:
    """One Pulumi project on disk: where it is, its name, where its stack files are."""

    root: Path
    file: Path
    name: str
    stack_config_dir: Path
    text: str = field(repr=False)

    @property
    def stack_extension(self) -> str:
        return self.file.suffix

    def stack_name(self, name: str) -> str:
        """The short name of `stack`, `project/stack` or `org/project/stack` (ProjectError otherwise)."""
        return short_stack_name(name, self.name)

    def stack_file(self, stack: str) -> Path:
        return self.stack_config_dir / f"Pulumi.{self.stack_name(stack)}{self.stack_extension}"

    def list_stacks(self) -> list[str]:
        prefix, suffix = "Pulumi.", self.stack_extension
        if not self.stack_config_dir.is_dir():
            return []
        return sorted(p.name[len(prefix):-len(suffix)] for p in self.stack_config_dir.glob(f"{prefix}*{suffix}")
                      if len(p.name) > len(prefix) + len(suffix))

    @property
    def config_defaults(self) -> dict[str, Any]:
        """Project-level config (`config:` in Pulumi.yaml), as the engine merges it under every stack's."""
        return dict(config_defaults(self.text))


def short_stack_name(name: str, project: str) -> str:
    parts = name.split("/")
    if len(parts) > 3 or any(not p for p in parts):
        raise ProjectError(f"stack '{name}': a stack is named 'stack', 'project/stack' or 'org/project/stack'")
    if len(parts) >= 2 and parts[-2] != project:
        raise ProjectError(f"stack '{name}': project '{parts[-2]}' is not this project '{project}' "
                           "(Pulumi.yaml name); run gpufleet in that project's directory or pass -C DIR")
    if not STACK_NAME.match(parts[-1]):
        raise ProjectError(f"stack '{name}': a stack name has 1-100 letters, digits, '-', '_' or '.'")
    return parts[-1]


def find_project_file(start: Path) -> Path | None:
    """Pulumi.yaml in `start` or the nearest parent directory, as `pulumi` searches."""
    for directory in (start, *start.parents):
        for name in PROJECT_FILES:
            candidate = directory / name
            if candidate.is_file():
                return candidate
    return None


def find_project(start: Path | str | None = None) -> Project:
    """The project that contains `start` (default: the current directory)."""
    origin = Path(start) if start is not None else Path.cwd()
    origin = origin.resolve()
    if not origin.is_dir():
        raise ProjectError(f"{origin} is not a directory; pass -C with a Pulumi project directory")
    path = find_project_file(origin)
    if path is None:
        raise ProjectError(f"no Pulumi project (Pulumi.yaml) in {origin} or any parent directory; "
                           "run gpufleet inside your project or pass -C DIR")
    text = path.read_text(encoding="utf-8")
    name, config_dir = _project_fields(str(path), text)
    root = path.parent
    return Project(root=root, file=path, name=name, stack_config_dir=(root / config_dir).resolve(), text=text)


@lru_cache(maxsize=16)
def _project_fields(path: str, text: str) -> tuple[str, str]:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ProjectError(f"{path}: not valid YAML{where}; fix the project file") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str) or not doc["name"]:
        raise ProjectError(f"{path}: a Pulumi project file needs a 'name'")
    config_dir = doc.get("stackConfigDir") or "."
    if not isinstance(config_dir, str):
        raise ProjectError(f"{path}: stackConfigDir must be a directory path; got {config_dir!r}")
    return doc["name"], config_dir


@lru_cache(maxsize=16)
def config_defaults(text: str) -> dict[str, Any]:
    """`config:` of a project file: `{default: v}` declarations and plain values, namespaced keys."""
    doc = yaml.safe_load(text) or {}
    name = doc.get("name", "")
    out: dict[str, Any] = {}
    for key, decl in (doc.get("config") or {}).items():
        full = key if ":" in key else f"{name}:{key}"
        if isinstance(decl, dict) and ("default" in decl or "type" in decl or "description" in decl):
            if "default" in decl:
                out[full] = decl["default"]
        elif isinstance(decl, dict) and "value" in decl:
            out[full] = decl["value"]
        else:
            out[full] = decl
    return out
