"""`gpufleet:promotion`: how `gpufleet promote` watches live traffic at every step.

After each weight change the promotion analyses the candidate's real traffic
in Prometheus for `iterations` intervals of `intervalS` seconds, and compares
it with the SLO (`gpufleet:slo`, absolute bounds) and with the baseline release
over the same window (relative bounds below). Every key is optional::

    gpufleet:promotion:
      intervalS: 60            # one analysis iteration (also the PromQL rate window)
      iterations: 5            # iterations per step
      failureLimit: 2          # consecutive fail/inconclusive/invalid iterations that roll back
      minRequests: 20          # requests the candidate must serve per interval to judge it
      maxQueuePerReplica: 8    # waiting requests per replica (mean over the interval, worst replica)
      maxKvCacheUsage: 0.95    # KV-cache usage per replica (share, worst replica)
      relative:                # candidate <= max(baseline x ratio, baseline + slack)
        ttftP95: 1.2
        tpotP95: 1.2
        e2eP95: 1.5
        errorRatio: 2.0
      releaseSelector: 'namespace="llm-{release}"'
      prometheus:              # one of:
        service: {namespace: monitoring, name: kps-prometheus, port: 9090}  # via the Kubernetes API proxy
        # url: http://prometheus.internal:9090                                    # reached directly

Frozen, camelCase, unknown keys rejected, like every config model. Errors are
raised as PydanticCustomError so the config loader prints them as they are
written here, with the key and what is allowed.
"""

from __future__ import annotations

import math
import re
from typing import Any, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

PROMOTION_KEY = "gpufleet:promotion"
# One or more Prometheus label matchers: name op "value", comma-separated.
_MATCHER = r'\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"\s*'
SELECTOR_PATTERN = re.compile(rf"^{_MATCHER}(,{_MATCHER})*$")
K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _bad(message: str) -> PydanticCustomError:
    return PydanticCustomError("gpufleet_promotion", message)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)


class RelativeBounds(_Model):
    """Ratios to the baseline's value over the same window; each at least 1 (1.2: no more than 20% worse)."""

    ttft_p95: float = 1.2
    tpot_p95: float = 1.2
    # e2e latency also follows each request's output length (the traffic mix), so its p95 varies more between
    # two identical releases over one interval than TTFT's or TPOT's; it is there to catch stalls and hangs.
    e2e_p95: float = Field(default=1.5, alias="e2eP95")  # to_camel would say e2EP95
    error_ratio: float = 2.0
    # Queue depth and KV-cache usage follow the load each replica carries, which differs between a
    # candidate at 10% and a baseline at 90%; they are saturation checks with absolute bounds only.

    @field_validator("*", mode="before")
    @classmethod
    def _ratio(cls, value: Any) -> float:
        if not _is_number(value) or not (math.isfinite(value) and 1.0 <= value <= 100.0):
            raise _bad(f"must be a ratio from 1.0 to 100 (1.2: at most 20% worse than the baseline; "
                       f"below 1.0 a candidate identical to the baseline would fail)")
        return value


class PrometheusService(_Model):
    """An in-cluster Prometheus Service, reached through the Kubernetes API server's service proxy."""

    namespace: str = "monitoring"
    # kube-prometheus-stack released as "kps" (fullnameOverride), like the observability and autoscaling
    # add-ons; the operator's headless "prometheus-operated" (port 9090) would serve as well
    name: str = "kps-prometheus"
    port: int = 9090

    @field_validator("namespace", "name", mode="before")
    @classmethod
    def _dns_label(cls, value: Any) -> str:
        if not isinstance(value, str) or not K8S_NAME.match(value):
            raise _bad("must be a Kubernetes name (lower-case letters, digits and '-', at most 63)")
        return value

    @field_validator("port", mode="before")
    @classmethod
    def _port(cls, value: Any) -> int:
        if not _is_number(value) or not isinstance(value, int) or not 1 <= value <= 65535:
            raise _bad("must be a TCP port from 1 to 65535")
        return value


class PrometheusSource(_Model):
    """Where the stack's Prometheus answers: `service` (default) or `url`, not both."""

    url: str | None = None
    service: PrometheusService | None = None
    timeout_s: float = 10.0

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise _bad("must be an http:// or https:// base URL of the Prometheus HTTP API, without query "
                       "(e.g. http://prometheus.monitoring:9090)")
        return value.rstrip("/")

    @field_validator("timeout_s", mode="before")
    @classmethod
    def _timeout(cls, value: Any) -> float:
        if not _is_number(value) or not (math.isfinite(value) and 0.5 <= value <= 120):
            raise _bad("must be a number of seconds from 0.5 to 120")
        return value

    @model_validator(mode="after")
    def _one(self) -> Self:
        if self.url is not None and self.service is not None:
            raise _bad("set one of prometheus.url or prometheus.service, not both")
        return self

    @property
    def in_cluster(self) -> PrometheusService | None:
        """The Service to reach through the API server; None when `url` is set."""
        return None if self.url is not None else (self.service or PrometheusService())


class PromotionConfig(_Model):
    """`gpufleet:promotion`; the defaults suit a production promotion (about 5 minutes per step)."""

    interval_s: float = 60.0
    iterations: int = 5
    failure_limit: int = 2
    min_requests: int = 20
    max_queue_per_replica: float = 8.0
    max_kv_cache_usage: float = 0.95
    relative: RelativeBounds = RelativeBounds()
    release_selector: str = 'namespace="llm-{release}"'
    prometheus: PrometheusSource = PrometheusSource()

    @field_validator("interval_s", mode="before")
    @classmethod
    def _interval(cls, value: Any) -> float:
        if not _is_number(value) or not (math.isfinite(value) and 2.0 <= value <= 3600.0):
            raise _bad("must be a number of seconds from 2 to 3600 (and at least twice Prometheus's scrape "
                       "interval, so that rate() sees two samples)")
        return value

    @field_validator("iterations", "failure_limit", "min_requests", mode="before")
    @classmethod
    def _count(cls, value: Any, info: ValidationInfo) -> int:
        upper = {"iterations": 100, "failure_limit": 100, "min_requests": 1_000_000}[str(info.field_name)]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= upper:
            raise _bad(f"must be an integer from 1 to {upper}")
        return value

    @field_validator("max_queue_per_replica", mode="before")
    @classmethod
    def _queue(cls, value: Any) -> float:
        if not _is_number(value) or not (math.isfinite(value) and value >= 0):
            raise _bad("must be zero or a positive number of waiting requests")
        return value

    @field_validator("max_kv_cache_usage", mode="before")
    @classmethod
    def _share(cls, value: Any) -> float:
        if not _is_number(value) or not (math.isfinite(value) and 0 < value <= 1):
            raise _bad("is a share above 0 and at most 1 (0.95 means 95%)")
        return value

    @field_validator("release_selector")
    @classmethod
    def _selector(cls, value: str) -> str:
        if "{release}" not in value:
            raise _bad("must contain {release}, which is replaced by each release's name")
        if not SELECTOR_PATTERN.match(value.replace("{release}", "x")):
            raise _bad('must be Prometheus label matchers like namespace="llm-{release}" (name op "value", '
                       "comma-separated; ops =, !=, =~, !~)")
        return value

    def selector(self, release: str) -> str:
        """The label matchers of one release, e.g. 'namespace="llm-green"'."""
        return self.release_selector.replace("{release}", release)


def parse_promotion(raw: Any) -> PromotionConfig:
    """The model from a stack file's mapping (None gives the defaults); ValidationError otherwise."""
    return PromotionConfig() if raw is None else PromotionConfig.model_validate(raw)


IN_CLUSTER_SUFFIXES = (".svc", ".svc.cluster.local")


def _mainland_host(host: str, mainland_regions: list[str]) -> bool:
    """An in-cluster name, a private address, or an Alibaba Cloud endpoint in a mainland region."""
    import ipaddress

    if host.endswith(IN_CLUSTER_SUFFIXES):
        return True
    try:
        return ipaddress.ip_address(host).is_private
    except ValueError:
        pass
    labels = host.split(".")
    return host.endswith(".aliyuncs.com") and any(
        label == region or label.startswith(f"{region}-") for label in labels for region in mainland_regions)


def validate_promotion(config: PromotionConfig, *, jurisdiction: str, mainland_regions: list[str]) -> None:
    """China stacks read their metrics only from inside mainland China (ConfigError otherwise)."""
    from gpufleet.core.errors import ConfigError

    url = config.prometheus.url
    if jurisdiction != "cn" or url is None:
        return
    host = urlsplit(url).hostname or ""
    if not _mainland_host(host, mainland_regions):
        raise ConfigError(f"{PROMOTION_KEY}.prometheus.url",
                          "China stacks read metrics only from inside mainland China (allowed: an in-cluster name "
                          "*.svc or *.svc.cluster.local, a private IP address, or an Alibaba Cloud endpoint in a "
                          f"mainland region such as cn-hangzhou-intranet.arms.aliyuncs.com); got {url!r}")
