"""The one way into the Pulumi program from outside the infra layer.

`pulumi up` runs `infra/__main__.py`, the offline preview runs `main` under the SDK's mock
engine; neither reaches into the components. `preload` imports everything the program can
register (each cloud's components), so that a caller can load it once before many runs.
"""

from __future__ import annotations

import importlib

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


def main(phase: str = PLATFORM) -> None:
    """Run one phase of the program for the current stack (config from the engine)."""
    from gpufleet.infra.program import main as program

    program(phase)


def preload() -> None:
    for name in PROGRAM_MODULES:
        importlib.import_module(name)
