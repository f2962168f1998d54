"""Shared fixtures: shipped stack files, a way to edit them, and cached previews."""

from __future__ import annotations

import copy
import shutil
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
# The one sys.path edit: the Locust scenarios import `common` from their own directory, and the
# benchmark scripts import their helpers from theirs, as they do when run as scripts.
for _folder in (ROOT / "loadtests", ROOT / "bench", ROOT / "bench" / "peers"):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))
DELETE = object()


def scratch_project(directory: Path) -> Path:
    """`directory` made a Pulumi project like the shipped one (its Pulumi.yaml), without stack files."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / "Pulumi.yaml", directory / "Pulumi.yaml")
    return directory


def stack_text(stack: str) -> str:
    return (ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8")


def edited_stack(stack: str, changes: dict[str, Any]) -> str:
    """A shipped stack file with edits applied: {'gpufleet:gpuPool.maxSize': 1, 'aws:region': DELETE}.

    The part before the first '.' is the config key; the rest is a path inside its object.
    """
    doc = yaml.safe_load(stack_text(stack))
    config = copy.deepcopy(doc["config"])
    for path, value in changes.items():
        key, *inner = path.split(".")
        if not inner:
            if value is DELETE:
                config.pop(key, None)
            else:
                config[key] = value
            continue
        node = config[key]
        for part in inner[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        last = inner[-1]
        if value is DELETE:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return yaml.safe_dump({"config": config}, sort_keys=False)


@lru_cache(maxsize=None)
def cached_preview(stack: str):
    from gpufleet.preview.engine import preview_stack
    return preview_stack(stack)


def shipped_stacks() -> list[str]:
    from gpufleet.core.config import list_stacks
    return list_stacks()


@pytest.fixture(scope="session")
def all_previews():
    return {s: cached_preview(s) for s in shipped_stacks()}
