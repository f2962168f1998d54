"""A real Prometheus scraping the simulator with the generated rules: the recording rules give the
load's own figures and the burn-rate alerts go from inactive to firing under a TTFT + 5xx fault.

Windows are scaled by 1/60 (see gpufleet.observability.scenario); ~40 s of wall time.
"""

from __future__ import annotations

import pytest

from gpufleet.core.slo_metrics import TTFT_BUCKETS
from gpufleet.observability.scenario import BURN_ALERTS, run_scenario
from tests.system_tools import require_tool


def bucket_width(value_s: float) -> float:
    """Width of the TTFT histogram bucket holding `value_s`."""
    upper = min(b for b in TTFT_BUCKETS if b >= value_s)
    lower = max((b for b in TTFT_BUCKETS if b < upper), default=0.0)
    return upper - lower


@pytest.mark.slow
def test_prometheus_rules_match_the_load_and_alerts_fire_under_fault() -> None:
    require_tool("prometheus")
    result = run_scenario(healthy_s=6.0, fault_max_s=40.0)

    # healthy: every burn alert stays inactive
    healthy_states = [s for _, phase, s in result.timeline if phase == "healthy"]
    assert healthy_states and all(state == "inactive" for s in healthy_states for state in s.values()), healthy_states
    assert set(healthy_states[-1]) == set(BURN_ALERTS)

    for figures in (result.healthy, result.fault):
        assert figures.prom_ttft_p95_s is not None and figures.prom_error_ratio is not None
        # TTFT p95 from the histogram within one bucket width of what the client measured
        width = bucket_width(figures.client_ttft_p95_s)
        assert abs(figures.prom_ttft_p95_s - figures.client_ttft_p95_s) <= width, figures
        # error ratio over the same 30 s window (scaled "30m"): window edges differ by < 1 scrape
        assert abs(figures.prom_error_ratio - figures.client_error_ratio) <= 0.04, figures
    assert result.healthy.client_error_ratio == result.healthy.prom_error_ratio == 0.0
    assert 0.10 <= result.fault.client_error_ratio <= 0.30  # 20% injected 5xx
    assert result.healthy.prom_ttft_p95_s < 0.5 < result.fault.prom_ttft_p95_s  # objective 500 ms

    # fault: inactive -> pending -> firing for the TTFT and error pages; TPOT stays quiet
    for alert in ("VllmTtftBudgetBurnPage", "VllmErrorBudgetBurnPage", "VllmTtftBudgetBurnTicket"):
        pending, firing = result.first(alert, "pending"), result.first(alert, "firing")
        assert firing is not None, (alert, result.timeline[-1])
        assert pending is not None and pending <= firing, alert
    final = result.timeline[-1][2]
    assert final["VllmTpotBudgetBurnPage"] == "inactive" and final["VllmTpotBudgetBurnTicket"] == "inactive"
