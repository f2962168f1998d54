"""The one way into the Pulumi program from outside the infra layer.

`pulumi up` runs `infra/__main__.py`, the offline preview runs `main` under the SDK's mock
engine; neither reaches into the components. `preload` imports everything the program can
register (each cloud's components), so that a caller can load it once before many runs.
"""

from __future__ import annotations

import importlib
from pathlib import Path

# Modules the program imports lazily, per cloud or per feature.
PROGRAM_MODULES = (
    "gpufleet.infra.program",
    "gpufleet.infra.workloads",
    "gpufleet.infra.components.aws",
    "gpufleet.infra.components.alicloud",
    "gpufleet.infra.components.traffic",
)
# The two phases of a region, each its own Pulumi stack (docs/deploy.md).
PLATFORM, WORKLOADS = "platform", "workloads"


def main(phase: str = PLATFORM, root: "Path | None" = None) -> None:
    """Run one phase of the program for the current stack (config from the engine); `root`: the project
    whose sibling stacks the fleet checks read (default: found from the working directory, as pulumi does)."""
    from gpufleet.infra.program import main as program

    program(phase, root)


def preload() -> None:
    for name in PROGRAM_MODULES:
        importlib.import_module(name)
