"""Read stack files as they were at a git revision, for `gpufleet cost --diff REV`.

Only `git ls-tree` and `git show`: read-only, no checkout, so the working tree
(and whatever the user has uncommitted) is never touched.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

STACKS_DIR = "stacks"
PREFIX, SUFFIX = "Pulumi.", ".yaml"


class GitError(RuntimeError):
    """git failed; str() is git's first error line."""


def _git(args: list[str], cwd: Path) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed (needed for --diff)") from None
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[0]
        raise GitError(f"git {' '.join(args)}: {first}")
    return done.stdout


def stack_names_from_listing(listing: str) -> list[str]:
    """Stack names from `git ls-tree --name-only REV stacks/` output."""
    names = []
    for line in listing.splitlines():
        name = line.strip().rsplit("/", 1)[-1]
        if name.startswith(PREFIX) and name.endswith(SUFFIX) and len(name) > len(PREFIX) + len(SUFFIX):
            names.append(name[len(PREFIX):-len(SUFFIX)])
    return sorted(names)


def stack_names_at(rev: str, root: Path, stacks_dir: str = STACKS_DIR) -> list[str]:
    """Stack names in `stacks_dir` (relative to `root`, the project) at `rev`."""
    return stack_names_from_listing(_git(["ls-tree", "--name-only", rev, f"{stacks_dir}/"], root))


def stack_text_at(rev: str, stack: str, root: Path, stacks_dir: str = STACKS_DIR) -> str:
    # `REV:./path` is relative to git's working directory (the project), not the repository's top.
    return _git(["show", f"{rev}:./{stacks_dir}/{PREFIX}{stack}{SUFFIX}"], root)
