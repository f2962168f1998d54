"""Scaling rehearsal benchmark: the replica timeline under a ramp, as JSON and an HTML chart.

    .venv/bin/python bench/scaling_sim.py --out out/scaling      # about 70 s

Simulated replicas (the vLLM simulator) behind a real Prometheus (Debian `prometheus`),
scaled by the HPA algorithm with the ScaledObject's behavior, time compressed 20x. Prints
how fast the autoscaler reacted and how it came down, with the load average of the run.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict
from pathlib import Path

from gpufleet.scalesim.report import findings, html_report
from gpufleet.scalesim.runner import run
from gpufleet.scalesim.scenario import PLAN, standard


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out/scaling"))
    parser.add_argument("--duration", type=float, default=66.0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    cfg = standard(args.duration)
    tl = run(cfg)
    found = findings(PLAN, tl)
    report = {"findings": asdict(found), "timeline": tl.as_json(), "factor": cfg.factor, "sync_s": cfg.sync_s,
              "loadavg_before": load_before, "loadavg_after": os.getloadavg()}
    (args.out / "scaling.json").write_text(json.dumps(report, indent=2))
    (args.out / "scaling.html").write_text(html_report(PLAN, tl, found, cfg.factor))
    react = None if found.first_up_s is None or found.first_over_s is None else found.first_up_s - found.first_over_s
    print(f"scale-up {react if react is None else round(react, 2)} s after the queue crossed its target "
          f"({cfg.sync_s} s syncs); peak {found.peak_replicas} replicas; first scale-down "
          f"{None if found.first_down_s is None or found.last_high_s is None else round(found.first_down_s - found.last_high_s, 2)} s "
          f"after the last peak proposal; gaps {list(found.down_gaps_s)}; direction changes {found.direction_changes}; "
          f"load average {report['loadavg_before'][0]:.2f} -> {report['loadavg_after'][0]:.2f}")
    print(f"wrote {args.out / 'scaling.json'} and {args.out / 'scaling.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
