"""Benchmark: how long a `gpufleet plan` sweep takes, and how close its knee is to the truth.

The simulator runs with a fixed TTFT t, a fixed inter-token latency i, no
jitter and M slots (`max_num_seqs`); the `completions` workload asks for
exactly L = 64 output tokens. A request then holds a slot for
S = t + (L - 1) x i seconds, so one replica completes at most C = M / S
requests/s: the analytic capacity. The sweep (the same `find_knee` +
`GateMeasure` the command uses) runs with a TTFT objective of t + q ms (q: the
queueing allowed) and starts at 0.6 C. Printed per configuration and run:
points measured, wall seconds, knee, knee / C and whether |knee - C| is within
one bisection step.

    .venv/bin/python bench/plan_sweep.py [--repeat 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from gpufleet.core.slo import SloSpec
from gpufleet.plan.measure import GateMeasure, PointSettings
from gpufleet.plan.sweep import SweepSettings, find_knee
from gpufleet.simserver.launch import LocalServer

OUTPUT_TOKENS = 64


@dataclass(frozen=True)
class Config:
    slots: int
    ttft_ms: float
    itl_ms: float
    queue_ms: float  # TTFT objective = ttft_ms + queue_ms

    @property
    def service_s(self) -> float:
        return (self.ttft_ms + (OUTPUT_TOKENS - 1) * self.itl_ms) / 1000

    @property
    def capacity(self) -> float:
        return self.slots / self.service_s


CONFIGS = (Config(16, 20, 8, 280), Config(8, 20, 4, 150), Config(32, 20, 16, 560))


def one_sweep(cfg: Config, duration_s: float, resolution: float) -> dict:
    slo = SloSpec(workload="completions", target_rate=cfg.capacity, duration_s=duration_s, warmup_s=1,
                  ttft_p95_ms=cfg.ttft_ms + cfg.queue_ms, max_error_rate=0.01, min_goodput=0.95, min_samples=40,
                  max_loop_lag_p99_ms=50, max_schedule_delay_p99_ms=100)
    started = time.perf_counter()
    with LocalServer(ttft_ms=cfg.ttft_ms, itl_ms=cfg.itl_ms, jitter=0, max_num_seqs=cfg.slots,
                     kv_capacity_tokens=1_000_000) as server:
        measure = GateMeasure(server.url, server.model, slo, PointSettings(timeout_s=15))
        start = round(cfg.capacity * 0.6, 1)
        result = find_knee(measure, SweepSettings(start_rps=start, max_rps=start * 8, min_rps=start / 8,
                                                  resolution=resolution, max_points=10))
    wall = time.perf_counter() - started
    knee = result.knee.rate if result.knee else None
    step = max((result.upper_rps or 0) - (knee or 0), resolution * (knee or 0))
    return {"config": vars(cfg), "capacity": cfg.capacity, "outcome": result.outcome, "knee": knee,
            "upper": result.upper_rps, "ratio": knee / cfg.capacity if knee else None,
            "within_one_step": knee is not None and abs(knee - cfg.capacity) <= step,
            "points": len(result.points), "wall_s": wall,
            "point_wall_s": [p.wall_s for p in result.points],
            "trace": [(p.rate, p.verdict, p.ttft_p95_ms) for p in result.points]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per point")
    parser.add_argument("--resolution", type=float, default=0.1)
    parser.add_argument("--config", action="append", metavar="M:TTFT:ITL:QUEUE",
                        help="slots, TTFT ms, ITL ms, queueing allowed ms (repeatable; default: three built in)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    configs = [Config(*(float(v) if i else int(v) for i, v in enumerate(c.split(":")))) for c in args.config or []]
    runs = []
    print(f"{'M':>3} {'t ms':>5} {'i ms':>5} {'C req/s':>8} {'run':>3} {'points':>6} {'wall s':>7} "
          f"{'s/point':>7} {'knee':>6} {'knee/C':>7}  within one step")
    for cfg in configs or CONFIGS:
        for i in range(args.repeat):
            run = one_sweep(cfg, args.duration, args.resolution)
            runs.append(run)
            ratio = f"{run['ratio']:.3f}" if run["ratio"] else "-"
            print(f"{cfg.slots:>3} {cfg.ttft_ms:>5g} {cfg.itl_ms:>5g} {cfg.capacity:>8.2f} {i + 1:>3} "
                  f"{run['points']:>6} {run['wall_s']:>7.1f} {run['wall_s'] / run['points']:>7.1f} "
                  f"{run['knee'] or '-':>6} {ratio:>7}  {run['within_one_step']} ({run['outcome']})", flush=True)
    ratios = [r["ratio"] for r in runs if r["ratio"]]
    print(f"knee / capacity: median {statistics.median(ratios):.3f}, min {min(ratios):.3f}, max {max(ratios):.3f}; "
          f"within one step: {sum(r['within_one_step'] for r in runs)}/{len(runs)}; "
          f"sweep wall time median {statistics.median(r['wall_s'] for r in runs):.1f} s")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2) + "\n")


if __name__ == "__main__":
    main()
