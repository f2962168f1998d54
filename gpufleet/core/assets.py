"""Where gpufleet's files live: the user's project first, else the copy installed with gpufleet.

Kubernetes templates and CRDs (`k8s/`), the Locust scenarios (`loadtests/`) and the policy
pack entry (`policy/`) sit at the top of the repository, and ship inside the wheel as
`gpufleet_k8s`, `gpufleet_loadtests` and `gpufleet_policy_pack` (setup.py maps them).
A project that keeps its own copy of a file (an edited template, its own workloads)
gets it; any other project, e.g. one outside this repository with gpufleet installed
from a wheel, gets the installed one. Nothing depends on where gpufleet's own source is.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

# tree in a project -> the distribution's package holding the same files
TREES = {"k8s": "gpufleet_k8s", "loadtests": "gpufleet_loadtests", "policy": "gpufleet_policy_pack"}
# A project's own loadtests/ replaces the installed one as a whole only when it is complete:
# locustfiles import `common` from their own directory.
LOADTESTS_MARKER = "workloads.yaml"


@lru_cache(maxsize=None)
def packaged_dir(tree: str) -> Path:
    """The installed copy of `tree` (a plain directory: wheels install unzipped)."""
    spec = importlib.util.find_spec(TREES[tree])
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise FileNotFoundError(f"gpufleet is installed without its {tree}/ files (package {TREES[tree]}); "
                                "reinstall gpufleet")
    return Path(locations[0])


def _project_tree(tree: str, start: Path | None) -> Path | None:
    from gpufleet.core.project import ProjectError, find_project

    try:
        directory = find_project(start).root / tree
    except ProjectError:
        return None
    return directory if directory.is_dir() else None


def asset(tree: str, relative: str | Path, start: Path | None = None) -> Path:
    """One file: the project's own (found from `start`, default the current directory) if it has it."""
    own = _project_tree(tree, start)
    if own is not None and (own / relative).is_file():
        return own / relative
    return packaged_dir(tree) / relative


def asset_dir(tree: str, marker: str, start: Path | None = None) -> Path:
    """A whole tree: the project's own when it holds `marker`, else the installed one."""
    own = _project_tree(tree, start)
    if own is not None and (own / marker).is_file():
        return own
    return packaged_dir(tree)


def loadtests_dir(start: Path | None = None) -> Path:
    return asset_dir("loadtests", LOADTESTS_MARKER, start)
