"""Running the real Prometheus tools offline: promtool checks, a local Prometheus, the SLO scenario.

Core rule generation lives in `gpufleet.core.slo_rules` (pure); this package drives
the `prometheus` and `promtool` binaries (Debian package `prometheus`).
"""
