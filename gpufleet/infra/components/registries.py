"""Repository names per registry, from the one list of what the workloads phase pulls."""

from __future__ import annotations

from gpufleet.core.config import StackConfig


def aws_repositories(cfg: StackConfig) -> list[str]:
    from gpufleet.core.artifacts import repositories
    return repositories(cfg)


def acr_repositories(cfg: StackConfig) -> list[str]:
    from gpufleet.core.artifacts import repositories
    return repositories(cfg)
