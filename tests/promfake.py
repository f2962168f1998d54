"""A stand-in for Prometheus at the HTTP boundary: answers the analysis's PromQL from a Python function.

`FakeTransport(values)` implements the client's Transport; `values(metric, release)` returns a number,
None (no data: an empty vector), or raises PrometheusError (an outage). Queries are recognised by
rendering every known query for every release, so a change of the PromQL that the analysis sends is
caught here too: an unknown expression fails the test.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from urllib.parse import parse_qs

from gpufleet.core.promotion_config import PromotionConfig
from gpufleet.promote import queries
from gpufleet.promote.prometheus import PrometheusClient, PrometheusError

RELEASES = ("blue", "green", "red")
Values = Callable[[str, str], float | None]

HEALTHY = {"requests": 120.0, "request_rate": 2.0, "error_ratio": 0.0, "ttft_p95_ms": 60.0, "tpot_p95_ms": 20.0,
           "e2e_p95_ms": 2600.0, "queue_per_replica": 0.0, "kv_cache_usage": 0.2}


def healthy(metric: str, release: str) -> float | None:
    return HEALTHY[metric]


class FakeTransport:
    where = "fake Prometheus"

    def __init__(self, values: Values, config: PromotionConfig | None = None) -> None:
        self.values = values
        self.config = config or PromotionConfig()
        self.calls: list[tuple[str, str, float]] = []  # (metric, release, at)

    def _lookup(self, expr: str) -> tuple[str, str]:
        for release in RELEASES:
            selector = self.config.selector(release)
            for metric in queries.ALL:
                for window in {self.config.interval_s, *self.windows}:
                    if metric.expr(selector, window) == expr:
                        return metric.name, release
        raise AssertionError(f"unexpected PromQL: {expr}")

    windows: tuple[float, ...] = (2.0, 3.0, 5.0, 10.0, 30.0, 60.0)

    def get(self, path: str, params, timeout_s: float) -> bytes:
        query = dict(params)
        assert path == "api/v1/query", path
        metric, release = self._lookup(query["query"])
        self.calls.append((metric, release, float(query["time"])))
        value = self.values(metric, release)  # may raise PrometheusError
        if value is None:
            result: list = []
        else:
            text = "NaN" if math.isnan(value) else ("+Inf" if value == math.inf else repr(float(value)))
            result = [{"metric": {}, "value": [float(query["time"]), text]}]
        return json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()


def client(values: Values, config: PromotionConfig | None = None) -> tuple[PrometheusClient, FakeTransport]:
    transport = FakeTransport(values, config)
    return PrometheusClient(transport), transport


def outage(metric: str, release: str) -> float | None:
    raise PrometheusError("cannot reach Prometheus at fake: [Errno 111] Connection refused")


def parse_params(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(url.split("?", 1)[1]).items()}
