"""One finding per check: ok, or what is wrong and the one command or click that fixes it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    check: str    # e.g. "service-role", "gpu-quota", "image", "weights", "kubernetes-version"
    subject: str  # what was checked, e.g. "AWSServiceRoleForAutoScaling"
    ok: bool
    detail: str   # what was found
    fix: str = ""  # only when not ok

    def line(self) -> str:
        if self.ok:
            return f"ok    {self.check} {self.subject}: {self.detail}"
        return f"FAIL  {self.check} {self.subject}: {self.detail}; fix: {self.fix}"


def passed(check: str, subject: str, detail: str) -> Finding:
    return Finding(check, subject, True, detail)


def failed(check: str, subject: str, detail: str, fix: str) -> Finding:
    return Finding(check, subject, False, detail, fix)
