"""`gpufleet:promotion`: defaults, and one exact line per bad key, through the stack loader every tool uses."""

from __future__ import annotations

import pytest

from conftest import edited_stack
from gpufleet.core.config import load_stack
from gpufleet.core.errors import StackConfigError
from gpufleet.core.promotion_config import PromotionConfig

STACK = "prod-us-east-1"
PREFIX = f"stack '{STACK}': gpufleet:promotion"


def load(block: object):
    return load_stack(STACK, text=edited_stack(STACK, {"gpufleet:promotion": block}))


def test_defaults_when_the_block_is_absent():
    cfg = load_stack(STACK).promotion
    assert cfg == PromotionConfig()
    assert (cfg.interval_s, cfg.iterations, cfg.failure_limit, cfg.min_requests) == (60.0, 5, 2, 20)
    assert cfg.selector("green") == 'namespace="llm-green"'
    service = cfg.prometheus.in_cluster
    assert service is not None and (service.namespace, service.name, service.port) == (
        "monitoring", "kps-prometheus", 9090)


def test_a_full_block():
    cfg = load({"intervalS": 30, "iterations": 4, "failureLimit": 3, "minRequests": 50, "maxQueuePerReplica": 4,
                "maxKvCacheUsage": 0.9, "relative": {"ttftP95": 1.1, "e2eP95": 2, "errorRatio": 1.5},
                "releaseSelector": 'app="vllm", release="{release}"',
                "prometheus": {"url": "https://prometheus.internal:9090/", "timeoutS": 5}}).promotion
    assert (cfg.relative.ttft_p95, cfg.relative.tpot_p95, cfg.relative.e2e_p95) == (1.1, 1.2, 2.0)
    assert cfg.selector("blue") == 'app="vllm", release="blue"'
    assert cfg.prometheus.url == "https://prometheus.internal:9090" and cfg.prometheus.in_cluster is None


BAD = [
    ({"intervalS": 1}, ".intervalS: must be a number of seconds from 2 to 3600 (and at least twice Prometheus's "
                       "scrape interval, so that rate() sees two samples); got 1"),
    ({"intervalS": "60s"}, ".intervalS: must be a number of seconds from 2 to 3600 (and at least twice Prometheus's "
                           "scrape interval, so that rate() sees two samples); got '60s'"),
    ({"iterations": 0}, ".iterations: must be an integer from 1 to 100; got 0"),
    ({"iterations": True}, ".iterations: must be an integer from 1 to 100; got True"),
    ({"failureLimit": 2.5}, ".failureLimit: must be an integer from 1 to 100; got 2.5"),
    ({"minRequests": 0}, ".minRequests: must be an integer from 1 to 1000000; got 0"),
    ({"maxQueuePerReplica": -1}, ".maxQueuePerReplica: must be zero or a positive number of waiting requests; got -1"),
    ({"maxKvCacheUsage": 95}, ".maxKvCacheUsage: is a share above 0 and at most 1 (0.95 means 95%); got 95"),
    ({"relative": {"ttftP95": 0.8}}, ".relative.ttftP95: must be a ratio from 1.0 to 100 (1.2: at most 20% worse "
                                     "than the baseline; below 1.0 a candidate identical to the baseline would fail); "
                                     "got 0.8"),
    ({"relative": {"queuePerReplica": 2}}, ".relative.queuePerReplica: unknown key (allowed: e2eP95, errorRatio, "
                                           "tpotP95, ttftP95)"),
    ({"releaseSelector": 'namespace="llm-blue"'}, ".releaseSelector: must contain {release}, which is replaced by "
                                                  "each release's name; got 'namespace=\"llm-blue\"'"),
    ({"releaseSelector": "namespace=llm-{release}"}, ".releaseSelector: must be Prometheus label matchers like "
                                                     'namespace="llm-{release}" (name op "value", comma-separated; '
                                                     "ops =, !=, =~, !~); got 'namespace=llm-{release}'"),
    ({"prometheus": {"url": "prometheus:9090"}}, ".prometheus.url: must be an http:// or https:// base URL of the "
                                                 "Prometheus HTTP API, without query (e.g. "
                                                 "http://prometheus.monitoring:9090); got 'prometheus:9090'"),
    ({"prometheus": {"url": "http://p:9090", "service": {"name": "prom"}}},
     ".prometheus: set one of prometheus.url or prometheus.service, not both; got {'url': 'http://p:9090', "
     "'service': {'name': 'prom'}}"),
    ({"prometheus": {"service": {"name": "Prometheus"}}},
     ".prometheus.service.name: must be a Kubernetes name (lower-case letters, digits and '-', at most 63); "
     "got 'Prometheus'"),
    ({"prometheus": {"service": {"port": 0}}}, ".prometheus.service.port: must be a TCP port from 1 to 65535; got 0"),
    ({"prometheus": {"timeoutS": 0}}, ".prometheus.timeoutS: must be a number of seconds from 0.5 to 120; got 0"),
    ({"interval": 60}, ".interval: unknown key (allowed: failureLimit, intervalS, iterations, maxKvCacheUsage, "
                       "maxQueuePerReplica, minRequests, prometheus, relative, releaseSelector)"),
]


@pytest.mark.parametrize("block, message", BAD)
def test_each_bad_key_is_one_line_naming_stack_key_and_what_is_allowed(block, message):
    with pytest.raises(StackConfigError) as err:
        load(block)
    assert str(err.value) == PREFIX + message


CN = "prod-cn-hangzhou"


def load_cn(url: str):
    return load_stack(CN, text=edited_stack(CN, {"gpufleet:promotion": {"prometheus": {"url": url}}}))


def test_china_stacks_read_metrics_only_from_inside_mainland_china():
    for url in ("http://kps-prometheus.monitoring.svc:9090", "http://prom.monitoring.svc.cluster.local:9090",
                "http://10.0.12.7:9090", "http://cn-hangzhou-intranet.arms.aliyuncs.com:9090/api/v1/prometheus/x"):
        assert load_cn(url).promotion.prometheus.url == url.rstrip("/")
    for url in ("https://prometheus.example.com", "http://8.8.8.8:9090",
                "http://ap-southeast-1-intranet.arms.aliyuncs.com:9090", "http://cn-hongkong.arms.aliyuncs.com:9090"):
        with pytest.raises(StackConfigError) as err:
            load_cn(url)
        assert str(err.value) == (
            f"stack '{CN}': gpufleet:promotion.prometheus.url: China stacks read metrics only from inside mainland "
            "China (allowed: an in-cluster name *.svc or *.svc.cluster.local, a private IP address, or an Alibaba "
            f"Cloud endpoint in a mainland region such as cn-hangzhou-intranet.arms.aliyuncs.com); got {url!r}")
    # the default (the in-cluster Service through the API server) needs no exception, and global stacks any URL
    assert load_stack(CN).promotion.prometheus.in_cluster is not None
    assert load({"prometheus": {"url": "https://prometheus.example.com"}}).promotion.prometheus.url
