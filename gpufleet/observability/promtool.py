"""`promtool check rules` and `promtool test rules` on generated rule files.

Used by the preview (one line per stack), the tests and the demo. When promtool
is not installed the callers say so in one line and go on; the tests fail instead.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

NOT_INSTALLED = "promtool not installed (Debian package 'prometheus'; run scripts/system-deps.sh)"


@dataclass(frozen=True)
class PromtoolResult:
    ok: bool
    output: str

    @property
    def line(self) -> str:
        """One line for tables: 'SUCCESS: 38 rules found' or the first error."""
        lines = [ln.strip() for ln in self.output.splitlines() if ln.strip()]
        wanted = [ln for ln in lines if ln.startswith(("SUCCESS", "FAILED")) or "error" in ln.lower()]
        return (wanted or lines or [""])[0]


def promtool_path() -> str | None:
    return shutil.which("promtool")


def _run(args: list[str], cwd: Path, timeout_s: float) -> PromtoolResult:
    tool = promtool_path()
    if tool is None:
        return PromtoolResult(False, NOT_INSTALLED)
    proc = subprocess.run([tool, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False)
    return PromtoolResult(proc.returncode == 0, (proc.stdout + proc.stderr).strip())


def check_rules(rules_text: str, timeout_s: float = 30) -> PromtoolResult:
    """`promtool check rules` on one rule file's text."""
    with tempfile.TemporaryDirectory(prefix="gpufleet-promtool-") as tmp:
        path = Path(tmp) / "rules.yaml"
        path.write_text(rules_text, encoding="utf-8")
        return _run(["check", "rules", str(path)], Path(tmp), timeout_s)


def test_rules(files: dict[str, str], test_file: str, timeout_s: float = 60) -> PromtoolResult:
    """`promtool test rules TEST_FILE` with `files` (name -> text) written next to it."""
    with tempfile.TemporaryDirectory(prefix="gpufleet-promtool-") as tmp:
        for name, text in files.items():
            (Path(tmp) / name).write_text(text, encoding="utf-8")
        return _run(["test", "rules", test_file], Path(tmp), timeout_s)


test_rules.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
