"""The platform stack's outputs for the commands that run between the two phases."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any


class NoOutputs(RuntimeError):
    pass


def platform_outputs(stack: str, path: Path | None, root: Path) -> dict[str, Any]:
    """From `--outputs FILE` (`pulumi stack output --json`), else by asking the Pulumi CLI in the project root."""
    if path is not None:
        return json.loads(path.read_text(encoding="utf-8"))
    if shutil.which("pulumi") is None:
        raise NoOutputs(f"stack '{stack}': no platform outputs: pass --outputs FILE "
                        "(`pulumi stack output --json` of the platform stack) or install the Pulumi CLI")
    done = subprocess.run(["pulumi", "stack", "output", "--json", "--stack", stack], cwd=root,
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise NoOutputs(f"stack '{stack}': pulumi stack output failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout)
