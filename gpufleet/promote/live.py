"""Builds the live-traffic analysis of a promotion from `gpufleet:promotion` (the command's only entry to it).

Kept apart from the CLI so that the same wiring serves a real promotion (the
stack's Prometheus, through the Kubernetes API proxy or a configured URL) and
a rehearsal (the local Prometheus), and so that overrides for short dry runs
are validated by the same config model as the stack file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from gpufleet.core.promotion_config import PromotionConfig
from gpufleet.core.slo import SloSpec
from gpufleet.promote.analysis import Analyzer
from gpufleet.promote.prometheus import KubeProxyTransport, PrometheusClient, Transport, UrlTransport
from gpufleet.promote.steps import StepAnalysis

OVERRIDES = {"interval_s": "--analysis-interval", "iterations": "--analysis-iterations"}


def with_overrides(config: PromotionConfig, **values: Any) -> PromotionConfig:
    """`config` with some keys replaced (e.g. a shorter interval for a rehearsal); ValueError names the flag."""
    given = {k: v for k, v in values.items() if v is not None}
    if not given:
        return config
    try:
        return PromotionConfig.model_validate({**config.model_dump(), **given})
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0])
        raise ValueError(f"{OVERRIDES.get(name, name)}: {err['msg']}; got {err['input']!r}") from None


def prometheus_client(config: PromotionConfig, kubeconfig: Mapping[str, Any] | None) -> PrometheusClient:
    """The stack's Prometheus: the configured URL, else its Service through the API server's proxy."""
    source = config.prometheus
    transport: Transport
    service = source.in_cluster
    if service is None:
        assert source.url is not None
        transport = UrlTransport(source.url)
    else:
        if kubeconfig is None:
            raise ValueError("reaching the in-cluster Prometheus needs the stack's kubeconfig output")
        transport = KubeProxyTransport(kubeconfig, namespace=service.namespace, name=service.name, port=service.port)
    return PrometheusClient(transport, timeout_s=source.timeout_s)


def step_analysis(client: PrometheusClient, config: PromotionConfig, slo: SloSpec, *, record: Callable[..., Any],
                  say: Callable[[str], None]) -> StepAnalysis:
    return StepAnalysis(Analyzer(client, config, slo), interval_s=config.interval_s, iterations=config.iterations,
                        failure_limit=config.failure_limit, record=record, say=say)


def describe(config: PromotionConfig, where: str) -> str:
    """One line for the plan printout."""
    return (f"{config.iterations} x {config.interval_s:g} s of live traffic per step from {where}; "
            f"rollback after {config.failure_limit} consecutive non-pass; at least {config.min_requests} "
            "requests per interval")
