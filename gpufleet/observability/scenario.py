"""The SLO alerts end to end: the simulator, a real Prometheus with the generated rules, healthy
load then a TTFT + error fault, and what Prometheus and the client each measured.

Shared by `tests/test_observability_e2e.py` and the demo (`scripts/demo.d/25-observability.sh`,
`python -m gpufleet.observability.scenario`). Rule windows are scaled by `SCALE` (1/60:
the page's 1h/5m windows become 60 s/5 s, its 2 min `for` 2 s) and Prometheus scrapes
and evaluates every 0.5 s (ten samples in the shortest, 5 s window), so a burn that takes an hour in production shows in seconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gpufleet.core.slo import SloSpec
from gpufleet.core.slo_rules import RuleWindows, rule_groups, rules_file_text
from gpufleet.observability.drive import OpenLoopDriver, error_ratio, percentile
from gpufleet.observability.localprom import LocalPrometheus, ScrapeTarget
from gpufleet.simserver.launch import LocalServer

SCALE = 1 / 60
STACK, RELEASE = "local", "blue"
# TTFT objective on a bucket boundary (0.5 s); healthy 0.2 s sits in (0.1, 0.25], the fault's
# 0.65 s in (0.5, 0.75]; one bucket width is the tolerance for p95 from the histogram.
SLO = SloSpec(ttft_p95_ms=500, tpot_p95_ms=60, max_error_rate=0.01, target_rate=10, duration_s=30, min_samples=100)
HEALTHY = {"ttft_ms": 200.0, "error_rate": 0.0}
FAULT = {"ttft_ms": 650.0, "error_rate": 0.2}
BURN_ALERTS = ("VllmTtftBudgetBurnPage", "VllmTtftBudgetBurnTicket", "VllmErrorBudgetBurnPage",
               "VllmErrorBudgetBurnTicket", "VllmTpotBudgetBurnPage", "VllmTpotBudgetBurnTicket")


@dataclass
class Figures:
    """One phase, measured by the client and read from the recording rules."""

    requests: int
    client_ttft_p95_s: float
    prom_ttft_p95_s: float | None
    client_error_ratio: float
    prom_error_ratio: float | None


@dataclass
class ScenarioResult:
    healthy: Figures
    fault: Figures
    timeline: list[tuple[float, str, dict[str, str]]] = field(default_factory=list)  # (s, phase, states)
    fault_seconds: float = 0.0

    def first(self, alert: str, state: str) -> float | None:
        """Seconds into the run when `alert` was first seen in `state`."""
        return next((t for t, _, s in self.timeline if s.get(alert) == state), None)


def rules_text(scale: float = SCALE) -> str:
    return rules_file_text(rule_groups(STACK, SLO, {}, RuleWindows(scale)))


def _figures(driver: OpenLoopDriver, prom: LocalPrometheus, w: RuleWindows) -> Figures:
    now = time.time()
    quantile_window = driver.window(now - w.seconds(300), now)
    ratio_window = driver.window(now - w.seconds(1800), now)
    ttfts = [s.ttft_s for s in quantile_window if s.ttft_s is not None]
    return Figures(
        requests=len(ratio_window),
        client_ttft_p95_s=percentile(ttfts, 0.95),
        prom_ttft_p95_s=prom.scalar("gpufleet:vllm_ttft_seconds:p95_5m"),
        client_error_ratio=error_ratio(ratio_window),
        prom_error_ratio=prom.scalar("gpufleet:vllm_request_errors:ratio_rate30m"),
    )


def run_scenario(*, healthy_s: float = 6.0, fault_max_s: float = 40.0, rate: float = 10.0, scale: float = SCALE,
                 on_tick: Callable[[float, str, dict[str, str]], None] | None = None) -> ScenarioResult:
    """Healthy load for `healthy_s`, then the fault until both page alerts fire (or `fault_max_s`)."""
    w = RuleWindows(scale)
    with LocalServer(ttft_ms=HEALTHY["ttft_ms"], itl_ms=10, jitter=0.05, seed=1, default_max_tokens=8) as server:
        address = server.url.removeprefix("http://")
        target = ScrapeTarget("vllm", address, {"stack": STACK, "release": RELEASE, "model": server.model})
        with LocalPrometheus([target], rules_text(scale), scrape_interval_s=0.5) as prom:
            prom.wait_for_target_up()
            driver = OpenLoopDriver(server.url, server.model, rate=rate, max_s=healthy_s + fault_max_s + 5).start()
            timeline: list[tuple[float, str, dict[str, str]]] = []
            start = time.monotonic()

            def tick(phase: str) -> dict[str, str]:
                states = {a: s for a, s in prom.rule_states().items() if a in BURN_ALERTS}
                timeline.append((round(time.monotonic() - start, 1), phase, states))
                if on_tick:
                    on_tick(*timeline[-1])
                return states

            try:
                while time.monotonic() - start < healthy_s:
                    tick("healthy")
                    time.sleep(1.0)
                healthy = _figures(driver, prom, w)
                server.set_faults(**FAULT)
                fault_start = time.monotonic()
                while time.monotonic() - fault_start < fault_max_s:
                    states = tick("fault")
                    if states.get("VllmTtftBudgetBurnPage") == "firing" and \
                            states.get("VllmErrorBudgetBurnPage") == "firing":
                        break
                    time.sleep(1.0)
                fault = _figures(driver, prom, w)
                fault_seconds = time.monotonic() - fault_start
            finally:
                driver.stop()
    return ScenarioResult(healthy, fault, timeline, fault_seconds)


def _print_tick(t: float, phase: str, states: dict[str, str]) -> None:
    shown = "  ".join(f"{a.removeprefix('Vllm')}={s}" for a, s in sorted(states.items()) if "Tpot" not in a)
    print(f"  t={t:5.1f}s  {phase:7s}  {shown}", flush=True)


def _fraction(text: str) -> float:
    num, _, den = text.partition("/")
    return float(num) / float(den or 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gpufleet.observability.scenario",
                                     description="SLO burn-rate alerts on a real Prometheus scraping the simulator")
    parser.add_argument("--healthy-s", type=float, default=6.0)
    parser.add_argument("--fault-max-s", type=float, default=22.0)
    parser.add_argument("--scale", type=_fraction, default=SCALE, help="rule window scale, e.g. 1/120 (default 1/60)")
    args = parser.parse_args(argv)
    print(f"simulator: TTFT {HEALTHY['ttft_ms']:g} ms, then {FAULT['ttft_ms']:g} ms and {FAULT['error_rate']:.0%} "
          f"5xx; SLO ttftP95Ms={SLO.ttft_p95_ms:g}, maxErrorRate={SLO.max_error_rate}; rule windows x{args.scale:.4f} "
          f"(page: {RuleWindows(args.scale).duration(3600)}/{RuleWindows(args.scale).duration(300)})")
    result = run_scenario(healthy_s=args.healthy_s, fault_max_s=args.fault_max_s, scale=args.scale,
                          on_tick=_print_tick)
    t, _phase, states = result.timeline[-1]
    print("final:  " + "  ".join(f"{a}={s}" for a, s in sorted(states.items()) if "Tpot" not in a)
          + f"  ({t:.0f} s)")
    for name, f in (("healthy", result.healthy), ("fault", result.fault)):
        prom_p95 = "n/a" if f.prom_ttft_p95_s is None else f"{f.prom_ttft_p95_s * 1000:.0f} ms"
        prom_err = "n/a" if f.prom_error_ratio is None else f"{f.prom_error_ratio:.3f}"
        print(f"{name:7s}: TTFT p95 client {f.client_ttft_p95_s * 1000:.0f} ms / rule {prom_p95}; "
              f"error ratio client {f.client_error_ratio:.3f} / rule {prom_err} ({f.requests} requests)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
