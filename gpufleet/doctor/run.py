"""Run the checks a phase needs, in order; each failure is one line with its fix."""

from __future__ import annotations

from typing import Any

from gpufleet.core.config import StackConfig

from .api import Api, DoctorUnavailable
from .artifacts import image_findings, weights_findings
from .findings import Finding, failed
from .platform import PLATFORM_CHECKS


def run_checks(cfg: StackConfig, api: Api, phase: str, outputs: dict[str, Any] | None) -> list[Finding]:
    """`platform`: roles, quota, version. `workloads`: those, plus images and weights (needs the platform's outputs)."""
    findings: list[Finding] = []
    for check in PLATFORM_CHECKS[cfg.cloud]:
        findings += check(api, cfg)
    if phase == "workloads":
        if not outputs:
            return findings + [failed("platform-outputs", cfg.stack, "no outputs of the platform stack",
                                      "run the platform phase first, then pass "
                                      "`pulumi stack output --json --show-secrets > outputs.json` as --outputs")]
        findings += image_findings(api, cfg, outputs)
        findings += weights_findings(api, cfg, outputs)
    return findings


__all__ = ["run_checks", "DoctorUnavailable"]
