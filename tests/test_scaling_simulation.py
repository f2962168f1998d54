"""The autoscaler's decisions under a ramp, against simulated replicas and a real Prometheus.

One compressed-time run (about a minute): the release's queue crosses its target, the
HPA (with the ScaledObject's behavior) adds replicas within two syncs, never flaps,
holds through the stabilization window after the peak, then removes one replica per period.
"""

from __future__ import annotations

import pytest

from gpufleet.core.autoscaling import scale_behavior
from gpufleet.core.hpa_behavior import scaled_behavior
from gpufleet.scalesim.report import findings, html_report
from gpufleet.scalesim.runner import run
from gpufleet.scalesim.scenario import PLAN, standard
from system_tools import require_tool


@pytest.mark.slow
def test_replica_timeline_under_a_ramp(tmp_path):
    require_tool("prometheus")
    cfg = standard()
    tl = run(cfg)
    found = findings(PLAN, tl)
    behavior = scaled_behavior(scale_behavior(PLAN.cold_start_s), cfg.factor)
    window = behavior["scaleDown"]["stabilizationWindowSeconds"]
    period = behavior["scaleDown"]["policies"][0]["periodSeconds"]
    (tmp_path / "scaling.html").write_text(html_report(PLAN, tl, found, cfg.factor))
    assert found.first_over_s is not None, tl.as_json()
    assert found.first_up_s is not None and found.first_up_s - found.first_over_s <= 2 * cfg.sync_s + 0.1
    assert found.peak_replicas >= 4 and max(tl.replicas) <= PLAN.max_replicas
    assert found.direction_changes == 1  # up, then down: no flapping
    assert found.first_down_s is not None and found.last_high_s is not None
    assert found.first_down_s - found.last_high_s >= window - cfg.sync_s
    assert all(gap >= period - cfg.sync_s for gap in found.down_gaps_s)
    # a replica serves only after its cold start
    assert all(ready <= replicas for ready, replicas in zip(tl.ready, tl.replicas))
