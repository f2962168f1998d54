"""Prometheus metrics under vLLM's names, rendered without prometheus_client.

Names, help texts, label sets (``model_name``, ``engine``) and histogram
buckets follow vLLM's V1 ``PrometheusStatLogger`` (``vllm/v1/metrics/loggers.py``)
so dashboards, scrapers and the generated SLO rules written for vLLM work
unchanged against the simulator. ``http_requests_total{handler,method,status}``
follows prometheus-fastapi-instrumentator, which vLLM's API server installs
(status grouped as ``2xx``/``4xx``/``5xx``; ``/metrics`` and ``/health`` not
counted). Exposition follows prometheus_client: counters are typed under their
base name and sampled with ``_total``; labels are sorted.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping

from gpufleet.core.slo_metrics import ITL_BUCKETS, REQUEST_LATENCY_BUCKETS, TTFT_BUCKETS

__all__ = ["Counter", "Histogram", "HttpRequests", "VllmMetrics", "CONTENT_TYPE", "build_1_2_5_buckets"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# vLLM's buckets, shared with the generated rules (one source).
__all__ += ["TTFT_BUCKETS", "ITL_BUCKETS", "REQUEST_LATENCY_BUCKETS"]


def build_1_2_5_buckets(max_value: int) -> tuple[float, ...]:
    """1, 2, 5, 10, 20, 50, ... up to ``max_value`` (vLLM's token-count buckets)."""
    buckets: list[float] = []
    exponent = 0
    while True:
        for mantissa in (1, 2, 5):
            value = mantissa * 10**exponent
            if value > max_value:
                return tuple(float(b) for b in buckets)
            buckets.append(value)
        exponent += 1


def _fmt(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    return repr(float(value))


def _labels(labels: Mapping[str, str]) -> str:
    inner = ",".join(f'{key}="{_escape(labels[key])}"' for key in sorted(labels))
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Counter:
    """A monotonically increasing value."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError(f"counters only go up, got {amount}")
        self.value += amount


class Histogram:
    """Cumulative-bucket histogram with Prometheus semantics (``le`` inclusive)."""

    __slots__ = ("buckets", "counts", "count", "sum")

    def __init__(self, buckets: Iterable[float]) -> None:
        self.buckets = tuple(buckets)
        if list(self.buckets) != sorted(set(self.buckets)):
            raise ValueError("histogram buckets must be strictly increasing")
        self.counts = [0] * (len(self.buckets) + 1)  # last one is +Inf
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float, count: int = 1) -> None:
        self.counts[bisect_left(self.buckets, value)] += count
        self.count += count
        self.sum += value * count

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, cumulative count) pairs, ending with +Inf."""
        out: list[tuple[float, int]] = []
        running = 0
        for bound, n in zip(self.buckets + (float("inf"),), self.counts):
            running += n
            out.append((bound, running))
        return out


class HttpRequests:
    """``http_requests_total`` as prometheus-fastapi-instrumentator counts it in vLLM."""

    EXCLUDED = ("/metrics", "/health", "/load", "/ping", "/version", "/server_info")

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, str], Counter] = {}

    def observe(self, handler: str, method: str, status: int) -> None:
        if handler in self.EXCLUDED or handler.startswith("/sim/"):
            return
        key = (handler, method, f"{status // 100}xx")
        self.counts.setdefault(key, Counter()).inc()

    def render(self) -> list[str]:
        name = "http_requests_total"
        lines = [f"# HELP {name} Total number of requests by method, status and handler.", f"# TYPE {name} counter"]
        for (handler, method, status), counter in sorted(self.counts.items()):
            labels = _labels({"handler": handler, "method": method, "status": status})
            lines.append(f"{name}{labels} {_fmt(counter.value)}")
        return lines


class VllmMetrics:
    """The simulator's metric set; gauges are read from callbacks at scrape time."""

    # vLLM's FinishReason strings (vllm/v1/engine/__init__.py FINISH_REASON_STRINGS).
    FINISHED_REASONS = ("stop", "length", "abort", "error", "repetition")

    def __init__(
        self,
        model_name: str,
        *,
        max_model_len: int,
        running: Callable[[], float],
        waiting: Callable[[], float],
        kv_cache_usage: Callable[[], float],
    ) -> None:
        self.labels = {"model_name": model_name, "engine": "0"}
        self._gauges = (
            ("vllm:num_requests_running", "Number of requests in model execution batches.", running),
            ("vllm:num_requests_waiting", "Number of requests waiting to be processed.", waiting),
            ("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", kv_cache_usage),
        )
        self.prompt_tokens = Counter()
        self.generation_tokens = Counter()
        self.num_preemptions = Counter()  # the simulator never preempts
        # No prefix caching: every prompt token is a query, none a hit.
        self.prefix_cache_queries = Counter()
        self.prefix_cache_hits = Counter()
        self.http = HttpRequests()
        self.request_success = {reason: Counter() for reason in self.FINISHED_REASONS}
        token_buckets = build_1_2_5_buckets(max_model_len)
        self.ttft = Histogram(TTFT_BUCKETS)
        self.itl = Histogram(ITL_BUCKETS)
        self.tpot = Histogram(ITL_BUCKETS)  # per-request mean time per output token
        self.e2e = Histogram(REQUEST_LATENCY_BUCKETS)
        self.queue_time = Histogram(REQUEST_LATENCY_BUCKETS)
        self.request_prompt_tokens = Histogram(token_buckets)
        self.request_generation_tokens = Histogram(token_buckets)

    def render(self) -> str:
        """Prometheus text exposition (format 0.0.4)."""
        lines: list[str] = []
        base = _labels(self.labels)
        for name, help_text, read in self._gauges:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name}{base} {_fmt(read())}"]
        for name, help_text, counter in (
            ("vllm:prompt_tokens", "Number of prefill tokens processed.", self.prompt_tokens),
            ("vllm:generation_tokens", "Number of generation tokens processed.", self.generation_tokens),
            ("vllm:num_preemptions", "Cumulative number of preemption from the engine.", self.num_preemptions),
            ("vllm:prefix_cache_queries", "Prefix cache queries, in terms of number of queried tokens.",
             self.prefix_cache_queries),
            ("vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.", self.prefix_cache_hits),
        ):
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter", f"{name}_total{base} {_fmt(counter.value)}"]
        name = "vllm:request_success"
        lines += [f"# HELP {name} Count of successfully processed requests.", f"# TYPE {name} counter"]
        for reason, counter in self.request_success.items():
            labels = _labels({**self.labels, "finished_reason": reason})
            lines.append(f"{name}_total{labels} {_fmt(counter.value)}")
        for name, help_text, hist in (
            ("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", self.ttft),
            ("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", self.itl),
            ("vllm:request_time_per_output_token_seconds", "Histogram of time_per_output_token_seconds per request.",
             self.tpot),
            ("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", self.e2e),
            ("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", self.queue_time),
            ("vllm:request_prompt_tokens", "Number of prefill tokens processed.", self.request_prompt_tokens),
            ("vllm:request_generation_tokens", "Number of generation tokens processed.", self.request_generation_tokens),
        ):
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
            for bound, cumulative in hist.cumulative():
                labels = _labels({**self.labels, "le": _fmt(bound)})
                lines.append(f"{name}_bucket{labels} {_fmt(cumulative)}")
            lines.append(f"{name}_count{base} {_fmt(hist.count)}")
            lines.append(f"{name}_sum{base} {_fmt(hist.sum)}")
        lines += self.http.render()
        return "\n".join(lines) + "\n"
