"""The standard rehearsal: one release, a ramp to about three replicas' worth of load, then a lull.

Shared by the test and `bench/scaling_sim.py` so both assert and report the same run.
Load is set from the simulator's capacity: with `max_num_seqs` 4 and 32 tokens at 20 ms,
one replica finishes about 4 / (0.08 + 31 x 0.02) = 5.7 requests/s.
"""

from __future__ import annotations

from gpufleet.core.autoscaling import ScalingPlan
from gpufleet.scalesim.runner import SimConfig

PLAN = ScalingPlan(release="blue", namespace="llm-blue", deployment="vllm-blue", min_replicas=1, max_replicas=6,
                   fallback_replicas=1, polling_interval_s=15, queue_per_replica=2, kv_cache_usage=0.8,
                   ttft_saturation=None, ttft_objective_s=0.8, cold_start_s=120, scale_to_zero=False, selector="")


def ramp(t: float) -> float:
    """2 req/s, a ramp to 22 req/s from 5 s to 25 s, held to 30 s, then 1 req/s."""
    if t < 5:
        return 2.0
    if t < 25:
        return 2.0 + (t - 5)
    if t < 30:
        return 22.0
    return 1.0


def standard(duration_s: float = 66.0) -> SimConfig:
    return SimConfig(plan=PLAN, load=ramp, duration_s=duration_s)
