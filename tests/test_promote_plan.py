"""The step plan: parsing --steps, weights per step, and plans the config would reject."""

from __future__ import annotations

import pytest

from gpufleet.promote.plan import PlanError, build_plan, parse_steps, weights_at
from gpufleet.core.traffic_config import parse_traffic

TRAFFIC = parse_traffic({"hostname": "assistant.example.com", "dnsZone": "example.com", "stackWeight": 50,
                         "releaseWeights": {"blue": 100}})
RELEASES = {"blue": 4, "green": 2}


def plan(candidate: str = "green", steps: tuple[int, ...] = (10, 50, 100), releases: dict[str, int] = RELEASES,
         traffic=TRAFFIC):
    return build_plan("prod-us-east-1", traffic, candidate, steps, jurisdiction="global", cloud="aws",
                      releases=releases)


def test_parse_steps() -> None:
    assert parse_steps("10,50,100") == (10, 50, 100)
    assert parse_steps(" 5, 25 ,100") == (5, 25, 100)
    assert parse_steps("30") == (30,)


@pytest.mark.parametrize("text, message", [
    ("", "--steps must be comma-separated percentages like 10,50,100; got ''"),
    ("10,,100", "--steps must be comma-separated percentages like 10,50,100; got '10,,100'"),
    ("10,half,100", "--steps: 'half' is not an integer percentage (allowed: 1 to 100)"),
    ("0,100", "--steps: 0 is outside 1 to 100"),
    ("10,150", "--steps: 150 is outside 1 to 100"),
    ("50,10,100", "--steps must rise strictly; 10 follows 50"),
    ("50,50", "--steps must rise strictly; 50 follows 50"),
])
def test_bad_steps(text: str, message: str) -> None:
    with pytest.raises(PlanError) as err:
        parse_steps(text)
    assert str(err.value) == message


def test_weights_keep_the_others_in_proportion_and_add_up_to_100() -> None:
    assert weights_at({"blue": 100, "green": 0}, "green", 10) == {"blue": 90, "green": 10}
    assert weights_at({"a": 50, "b": 30, "c": 20}, "c", 33) == {"a": 42, "b": 25, "c": 33}
    assert weights_at({"a": 1, "b": 1, "c": 98}, "c", 99) == {"a": 1, "b": 0, "c": 99}
    assert weights_at({"a": 60, "b": 40, "c": 0}, "c", 100) == {"a": 0, "b": 0, "c": 100}
    for share in range(1, 101):
        assert sum(weights_at({"a": 37, "b": 41, "c": 22}, "c", share).values()) == 100


def test_weights_need_another_release_to_take_the_rest() -> None:
    with pytest.raises(PlanError) as err:
        weights_at({"green": 100, "blue": 0}, "green", 40)
    assert str(err.value) == "no other release carries traffic to take the remaining 60% (current weights: blue=0, green=100)"


def test_plan_lists_every_step_with_weights_before_and_after() -> None:
    p = plan()
    assert p.start == {"blue": 100, "green": 0}
    assert [(s.number, s.share, s.before, s.after) for s in p.steps] == [
        (1, 10, {"blue": 100, "green": 0}, {"blue": 90, "green": 10}),
        (2, 50, {"blue": 90, "green": 10}, {"blue": 50, "green": 50}),
        (3, 100, {"blue": 50, "green": 50}, {"blue": 0, "green": 100}),
    ]
    assert p.final == {"blue": 0, "green": 100}


@pytest.mark.parametrize("kwargs, message", [
    (dict(candidate="purple"), "--to 'purple' is not a release of stack 'prod-us-east-1' (allowed: blue, green)"),
    (dict(candidate="green", releases={"blue": 4, "green": 0}),
     "release 'green' of stack 'prod-us-east-1' has 0 replicas; it cannot take traffic"),
    (dict(candidate="blue"),
     "--steps: the first step 10% is not above 'blue''s current share of 100% (current weights: blue=100)"),
    (dict(candidate="green", traffic=parse_traffic({"hostname": "assistant.example.com", "dnsZone": "example.com",
                                                   "stackWeight": 50, "releaseWeights": {"green": 100}}),
          steps=(100,)),
     "--steps: the first step 100% is not above 'green''s current share of 100% (current weights: green=100)"),
])
def test_impossible_plans(kwargs: dict, message: str) -> None:
    with pytest.raises(PlanError) as err:
        plan(**kwargs)
    assert str(err.value) == message


def test_a_step_that_would_route_to_a_release_without_replicas_is_refused() -> None:
    three = parse_traffic({"hostname": "assistant.example.com", "dnsZone": "example.com", "stackWeight": 50,
                           "releaseWeights": {"blue": 90, "red": 10}})
    with pytest.raises(PlanError) as err:
        build_plan("prod-us-east-1", three, "green", (50,), jurisdiction="global", cloud="aws",
                   releases={"blue": 4, "green": 2, "red": 0})
    assert str(err.value) == (
        "step 1 (50%) would set invalid weights: gpufleet:traffic.releaseWeights.red: weight 5 sends traffic to "
        "release 'red', which has 0 replicas (set the weight to 0 or give it replicas)"
    )
