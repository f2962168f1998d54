"""Prometheus metrics of the moderation stage, all named `gpufleet_moderation_*`.

Blocks, errors and time-outs are counters so the observability alerts can use
`rate()`; screening latency is a histogram per direction. A registry per proxy
keeps tests that start several proxies in one process apart.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


class ModerationMetrics:
    def __init__(self, provider: str) -> None:
        self.registry = CollectorRegistry()
        self.provider = provider
        self.requests = Counter("gpufleet_moderation_requests_total", "Requests through the moderation stage",
                                ["endpoint", "outcome"], registry=self.registry)
        self.checks = Counter("gpufleet_moderation_checks_total", "Texts sent to the moderation provider",
                              ["provider", "direction"], registry=self.registry)
        self.blocks = Counter("gpufleet_moderation_blocks_total", "Prompts refused and outputs cut",
                              ["provider", "direction", "category"], registry=self.registry)
        self.errors = Counter("gpufleet_moderation_errors_total",
                              "Moderation failures (kind: error or timeout); refused unless fail-open",
                              ["provider", "direction", "kind"], registry=self.registry)
        self.fail_open = Counter("gpufleet_moderation_fail_open_total",
                                 "Moderation failures let through because the stack is fail-open (non-prod only)",
                                 ["provider", "direction"], registry=self.registry)
        self.upstream_errors = Counter("gpufleet_moderation_upstream_errors_total",
                                       "Model server unreachable or failing behind the stage", registry=self.registry)
        self.check_seconds = Histogram("gpufleet_moderation_check_seconds", "Time of one provider check",
                                       ["provider", "direction"], registry=self.registry,
                                       buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))
        self.held_seconds = Histogram("gpufleet_moderation_window_hold_seconds",
                                      "How long output text was held back before release (screening window)",
                                      registry=self.registry,
                                      buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))

    def render(self) -> bytes:
        return generate_latest(self.registry)
