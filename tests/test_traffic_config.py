"""`gpufleet:traffic`: shape, per-stack rules and cross-stack rules, each bad config with its exact line."""

from __future__ import annotations

from typing import Any

import pytest

from gpufleet.core.errors import ConfigError, StackConfigError
from gpufleet.core.traffic_config import TrafficConfig, parse_traffic, validate_fleet, validate_traffic

GOOD = {
    "hostname": "assistant.cn.example.com",
    "dnsZone": "example.com",
    "stackWeight": 50,
    "releaseWeights": {"blue": 90, "green": 10},
}
RELEASES = {"blue": 3, "green": 1}


def traffic(**changes: Any) -> dict[str, Any]:
    return {**GOOD, **changes}


def check(raw: dict[str, Any], releases: dict[str, int] = RELEASES, jurisdiction: str = "cn") -> None:
    cfg = parse_traffic(raw)
    validate_traffic(cfg, stack="prod-cn-hangzhou", jurisdiction=jurisdiction,
                     cloud="alicloud" if jurisdiction == "cn" else "aws", releases=releases)


def test_good_config_parses_to_a_frozen_model_and_writes_back_camel_case() -> None:
    cfg = parse_traffic(GOOD)
    assert cfg.hostname == "assistant.cn.example.com"
    assert cfg.stack_weight == 50
    assert cfg.release_weights == {"blue": 90, "green": 10}
    assert cfg.weight_of("green") == 10 and cfg.weight_of("canary") == 0
    assert cfg.to_config() == GOOD
    check(GOOD)
    with pytest.raises(Exception):
        cfg.stack_weight = 10  # type: ignore[misc]


def test_with_release_weights_revalidates() -> None:
    cfg = parse_traffic(GOOD)
    assert cfg.with_release_weights({"blue": 50, "green": 50}).release_weights == {"blue": 50, "green": 50}
    assert cfg.release_weights == {"blue": 90, "green": 10}
    with pytest.raises(Exception, match="must be an integer from 0 to 100"):
        cfg.with_release_weights({"blue": 150})


BAD_SHAPES = [
    (traffic(releaseWeights={"blue": 90.5, "green": 9.5}),
     "gpufleet:traffic.releaseWeights.blue: must be an integer from 0 to 100; got 90.5"),
    (traffic(releaseWeights={"blue": "90", "green": 10}),
     "gpufleet:traffic.releaseWeights.blue: must be an integer from 0 to 100; got '90'"),
    (traffic(releaseWeights={"blue": 110, "green": -10}),
     "gpufleet:traffic.releaseWeights.blue: must be an integer from 0 to 100; got 110"),
    (traffic(releaseWeights={"blue": True, "green": 99}),
     "gpufleet:traffic.releaseWeights.blue: must be an integer from 0 to 100; got True"),
    (traffic(stackWeight=101), "gpufleet:traffic.stackWeight: must be an integer from 0 to 100; got 101"),
    (traffic(stackWeight=-1), "gpufleet:traffic.stackWeight: must be an integer from 0 to 100; got -1"),
    (traffic(releaseWeights=["blue", "green"]),
     "gpufleet:traffic.releaseWeights: Input should be a valid dictionary; got ['blue', 'green']"),
    ({k: v for k, v in GOOD.items() if k != "dnsZone"}, "gpufleet:traffic.dnsZone: is required"),
    ({**{k: v for k, v in GOOD.items() if k != "releaseWeights"}, "releaseWeight": {"blue": 100}},
     "gpufleet:traffic.releaseWeight: unknown key (allowed: dnsZone, hostname, releaseWeights, stackWeight)"),
]


@pytest.mark.parametrize("raw, message", BAD_SHAPES)
def test_bad_shapes_name_the_key(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_traffic(raw)
    assert str(err.value) == message


def test_not_a_map() -> None:
    with pytest.raises(ConfigError) as err:
        parse_traffic("assistant.example.com")
    assert str(err.value) == (
        "gpufleet:traffic: must be a map with hostname, dnsZone, stackWeight, releaseWeights; got str"
    )


BAD_RULES = [
    (traffic(releaseWeights={"blue": 90, "green": 20}), RELEASES,
     "gpufleet:traffic.releaseWeights: weights must add up to 100; got 110 (blue=90, green=20)"),
    (traffic(releaseWeights={"blue": 0, "green": 0}), RELEASES,
     "gpufleet:traffic.releaseWeights: weights must add up to 100; got 0 (blue=0, green=0)"),
    (traffic(releaseWeights={}), RELEASES,
     "gpufleet:traffic.releaseWeights: must name at least one release (allowed: blue, green)"),
    (traffic(releaseWeights={"blue": 90, "grene": 10}), RELEASES,
     "gpufleet:traffic.releaseWeights.grene: 'grene' is not a release of this stack (allowed: blue, green)"),
    (traffic(releaseWeights={"blue": 100}), {},
     "gpufleet:traffic.releaseWeights.blue: 'blue' is not a release of this stack "
     "(allowed: none; define gpufleet:releases first)"),
    (traffic(), {"blue": 3, "green": 0},
     "gpufleet:traffic.releaseWeights.green: weight 10 sends traffic to release 'green', which has 0 replicas "
     "(set the weight to 0 or give it replicas)"),
    (traffic(hostname="example.com"), RELEASES,
     "gpufleet:traffic.hostname: 'example.com' must be a name inside dnsZone 'example.com' and not the zone apex "
     "(a weighted record at the apex cannot point at a load balancer)"),
    (traffic(hostname="assistant.example.org"), RELEASES,
     "gpufleet:traffic.hostname: 'assistant.example.org' must be a name inside dnsZone 'example.com' and not the "
     "zone apex (a weighted record at the apex cannot point at a load balancer)"),
    (traffic(hostname="Assistant.example.com"), RELEASES,
     "gpufleet:traffic.hostname: 'Assistant.example.com' is not a valid hostname (lowercase DNS labels of letters, "
     "digits and '-', separated by '.', at most 253 characters)"),
    (traffic(dnsZone="com"), RELEASES,
     "gpufleet:traffic.dnsZone: 'com' is not a valid DNS zone (lowercase DNS labels of letters, digits and '-', "
     "separated by '.', at most 253 characters)"),
]


@pytest.mark.parametrize("raw, releases, message", BAD_RULES)
def test_bad_rules_name_the_key(raw: dict[str, Any], releases: dict[str, int], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        check(raw, releases)
    assert str(err.value) == message


def test_a_release_left_out_of_the_weights_gets_zero_and_may_have_no_replicas() -> None:
    check(traffic(releaseWeights={"blue": 100}), {"blue": 2, "green": 0})


def fleet(**stacks: tuple[str, dict[str, Any]]) -> dict[str, tuple[str, TrafficConfig]]:
    return {name.replace("_", "-"): (j, parse_traffic(raw)) for name, (j, raw) in stacks.items()}


def test_fleet_of_separate_jurisdictions_is_fine() -> None:
    validate_fleet(fleet(
        cn_a=("cn", traffic(stackWeight=60)),
        cn_b=("cn", traffic(stackWeight=40)),
        us=("global", traffic(hostname="assistant.example.com", stackWeight=100)),
        eu=("global", traffic(hostname="assistant.example.com", stackWeight=0)),
    ))


BAD_FLEETS = [
    (fleet(cn_a=("cn", traffic()), us=("global", traffic())),
     "stack 'us': gpufleet:traffic.hostname: 'assistant.cn.example.com' is shared by China stacks (cn-a) and "
     "global stacks (us); China and global endpoints never share a DNS record (give each jurisdiction its own hostname)"),
    (fleet(cn_a=("cn", traffic(stackWeight=0)), cn_b=("cn", traffic(stackWeight=0))),
     "stack 'cn-b': gpufleet:traffic.stackWeight: every stack serving 'assistant.cn.example.com' has stackWeight 0 "
     "(cn-a, cn-b); at least one must be above 0"),
    (fleet(us=("global", traffic(hostname="assistant.example.com", stackWeight=0))),
     "stack 'us': gpufleet:traffic.stackWeight: every stack serving 'assistant.example.com' has stackWeight 0 "
     "(us); at least one must be above 0"),
    (fleet(cn_a=("cn", traffic()), cn_b=("cn", traffic(hostname="assistant.cn.example.com", dnsZone="cn.example.com"))),
     "stack 'cn-b': gpufleet:traffic.dnsZone: 'cn.example.com' differs from 'example.com' of stack 'cn-a', which "
     "serves the same hostname 'assistant.cn.example.com'"),
]


@pytest.mark.parametrize("stacks, message", BAD_FLEETS)
def test_bad_fleets(stacks: dict[str, tuple[str, TrafficConfig]], message: str) -> None:
    with pytest.raises(StackConfigError) as err:
        validate_fleet(stacks)
    assert str(err.value) == message
