"""Benchmark: `gpufleet preview --all` wall time, and whether it grows linearly with stacks.

Runs the real command (a fresh process each time, imports included) on the
shipped stacks copied 1x, 2x, 4x and 8x into a scratch project, all in one run
so the figures are comparable. Prints seconds per stack, a least-squares line
(start-up + slope x stacks) with its R^2, and the linearity ratio: marginal
seconds per stack from 4x->8x divided by 1x->2x (1.0 = linear).

    .venv/bin/python bench/preview_scaling.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GPUFLEET = [sys.executable, "-m", "gpufleet.cli"]


def scratch_project(copies: int) -> Path:
    root = Path(tempfile.mkdtemp(prefix=f"gpufleet-bench-{copies}x-"))
    (root / "stacks").mkdir()
    for stack_file in sorted((ROOT / "stacks").glob("Pulumi.*.yaml")):
        for i in range(copies):
            name = stack_file.name if i == 0 else stack_file.name.replace("Pulumi.", f"Pulumi.c{i}-", 1)
            shutil.copy(stack_file, root / "stacks" / name)
    return root


def timed_preview(root: Path) -> tuple[float, int]:
    started = time.perf_counter()
    proc = subprocess.run([*GPUFLEET, "preview", "--all", "--json", "--root", str(root)],
                          capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"preview failed ({proc.returncode}): {proc.stderr.strip()}")
    return elapsed, len(json.loads(proc.stdout)["stacks"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = {}
    for copies in (1, 2, 4, 8):
        root = scratch_project(copies)
        try:
            runs = [timed_preview(root) for _ in range(args.repeat)]
        finally:
            shutil.rmtree(root)
        stacks = runs[0][1]
        rows[copies] = (stacks, statistics.median(t for t, _ in runs))
    print(f"{'stacks':>6} {'median s':>9} {'s/stack':>8}")
    for copies, (stacks, secs) in rows.items():
        print(f"{stacks:>6} {secs:>9.2f} {secs / stacks:>8.3f}")
    (n1, t1), (n2, t2), (n4, t4), (n8, t8) = rows[1], rows[2], rows[4], rows[8]
    m12, m48 = (t2 - t1) / (n2 - n1), (t8 - t4) / (n8 - n4)
    xs, ys = [n for n, _ in rows.values()], [t for _, t in rows.values()]
    fit = statistics.linear_regression(xs, ys)
    mean = statistics.fmean(ys)
    r2 = 1 - sum((y - (fit.intercept + fit.slope * x)) ** 2 for x, y in zip(xs, ys)) / sum((y - mean) ** 2 for y in ys)
    print(f"fit: {fit.intercept:.2f} s start-up + {fit.slope:.3f} s/stack, R^2 {r2:.4f}")
    print(f"marginal s/stack: {m12:.3f} (1x->2x), {m48:.3f} (4x->8x); linearity ratio {m48 / m12:.2f} (1.0 = linear)")
    print(f"shipped stacks ({n1}) previewed in {t1:.2f} s; target < 10 s: {'met' if t1 < 10 else 'NOT met'}")


if __name__ == "__main__":
    main()
