"""Fleet arithmetic: headroom, redundancy for a lost zone, whole nodes; property-tested."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gpufleet.plan.fleet import (
    FleetInputs, OtherRelease, base_replicas, nodes_for, plan_fleet, survivors, with_redundancy, zone_spread,
)

rates = st.floats(0.05, 5000, allow_nan=False, allow_infinity=False)
headrooms = st.sampled_from([0.0, 0.1, 0.25, 0.3, 0.5, 1.0])
zones = st.integers(2, 6)
pow2 = st.sampled_from([1, 2, 4, 8])


@st.composite
def fleets(draw):
    knee = draw(rates)
    peak = draw(rates)
    avg = draw(st.floats(0.01, 1.0)) * peak
    assume(avg > 0)
    gpn = draw(pow2)
    tp = draw(st.sampled_from([t for t in (1, 2, 4, 8) if t <= gpn]))
    others = tuple(
        OtherRelease(f"r{i}", draw(st.sampled_from([t for t in (1, 2, 4, 8) if t <= gpn])), rep, lo, hi)
        for i, (lo, rep, hi) in enumerate(draw(st.lists(
            st.tuples(st.integers(1, 5), st.integers(0, 5), st.integers(0, 5)).map(
                lambda t: (t[0], t[0] + t[1], t[0] + t[1] + t[2])), max_size=2)))
    )
    return FleetInputs(knee_rps=knee, peak_rps=peak, avg_rps=avg, headroom=draw(headrooms),
                       redundancy=draw(st.sampled_from(["zone", "replica", "none"])), zones=draw(zones),
                       gpus_per_replica=tp, gpus_per_node=gpn, others=others)


@settings(max_examples=120, deadline=None)
@given(rps=rates, knee=rates, headroom=headrooms)
def test_base_replicas_is_the_smallest_with_headroom(rps, knee, headroom):
    n = base_replicas(rps, knee, headroom)
    assert n >= 1
    assert n * knee >= rps * (1 + headroom) * (1 - 1e-12)
    if n > 1:
        assert (n - 1) * knee < rps * (1 + headroom) * (1 + 1e-12)


def test_base_replicas_is_exact_on_round_figures():
    assert base_replicas(40, 13, 0.3) == 4  # 40 x 1.3 = 52 = 4 x 13 exactly, not 4.000000001
    assert base_replicas(40, 13, 0.31) == 5
    assert base_replicas(0.01, 100, 0.3) == 1


@settings(max_examples=120, deadline=None)
@given(base=st.integers(1, 200), z=zones)
def test_zone_redundancy_survives_any_zone_and_is_minimal(base, z):
    n = with_redundancy(base, z, "zone")
    assert survivors(n, z) >= base
    assert n >= base + 1
    assert n == base + 1 or survivors(n - 1, z) < base
    assert with_redundancy(base, z, "replica") == base + 1
    assert with_redundancy(base, z, "none") == base


def test_zone_redundancy_examples():
    assert with_redundancy(4, 3, "zone") == 6  # 2+2+2: losing a zone leaves 4
    assert with_redundancy(1, 2, "zone") == 2
    assert with_redundancy(10, 3, "zone") == 15
    assert zone_spread(7, 3) == [3, 2, 2]


@settings(max_examples=120, deadline=None)
@given(replicas=st.integers(0, 300), z=zones, gpn=pow2, tp=pow2)
def test_nodes_round_up_to_whole_nodes_per_zone(replicas, z, gpn, tp):
    assume(tp <= gpn)
    nodes = nodes_for([(replicas, tp)], z, gpn)
    per_zone = zone_spread(replicas, z)
    assert nodes * gpn >= replicas * tp
    assert nodes == sum(math.ceil(r * tp / gpn) for r in per_zone)
    assert nodes <= math.ceil(replicas * tp / gpn) + z  # at most one part-filled node per zone
    if gpn == tp:
        assert nodes == replicas


@settings(max_examples=120, deadline=None)
@given(f=fleets())
def test_plan_invariants(f):
    plan = plan_fleet(f)
    assert 1 <= plan.base_avg <= plan.base_peak
    assert plan.min_replicas <= plan.max_replicas and plan.replicas == plan.min_replicas
    if f.redundancy == "zone":  # the peak survives the loss of the fullest zone within the headroom
        assert survivors(plan.max_replicas, f.zones) * f.knee_rps >= f.peak_rps * (1 + f.headroom) * (1 - 1e-12)
    assert plan.max_replicas * f.knee_rps >= f.peak_rps * (1 + f.headroom) * (1 - 1e-12)
    assert plan.pool_min <= plan.pool_desired <= plan.pool_max
    assert plan.pool_nodes_avg <= plan.pool_nodes_peak <= plan.pool_max
    assert plan.release_nodes_peak <= plan.pool_nodes_peak
    gpus_at_max = plan.max_replicas * f.gpus_per_replica + sum(o.max_replicas * o.gpus_per_replica for o in f.others)
    assert plan.pool_max * f.gpus_per_node >= gpus_at_max
    assert plan.karpenter_gpu_limit == plan.pool_max * f.gpus_per_node


@settings(max_examples=80, deadline=None)
@given(f=fleets(), more=st.floats(1.0, 10.0))
def test_more_peak_never_means_fewer(f, more):
    bigger = FleetInputs(**{**vars(f), "peak_rps": f.peak_rps * more})
    a, b = plan_fleet(f), plan_fleet(bigger)
    assert b.max_replicas >= a.max_replicas and b.pool_max >= a.pool_max


def test_worked_example_us_east_blue():
    """Knee 36 req/s, peak 40, average 20, 30% headroom, 3 zones, 1-GPU nodes, green (1/1/3) on the pool."""
    f = FleetInputs(36, 40, 20, 0.3, "zone", 3, 1, 1, (OtherRelease("green", 1, 1, 1, 3),))
    plan = plan_fleet(f)
    assert (plan.base_avg, plan.base_peak, plan.min_replicas, plan.max_replicas) == (1, 2, 2, 3)
    assert (plan.pool_min, plan.pool_desired, plan.pool_max) == (3, 3, 6)
    assert (plan.pool_nodes_avg, plan.pool_nodes_peak) == (3, 4)


@pytest.mark.parametrize("kwargs, message", [
    (dict(avg_rps=50), "the average rate must be > 0 and at most the peak (40), got 50"),
    (dict(zones=1), "zone redundancy needs at least 2 zones, got 1"),
    (dict(gpus_per_replica=2, gpus_per_node=1), "2 GPUs per replica do not pack a 1-GPU node"),
    (dict(knee_rps=0.0), "knee_rps must be a positive number, got 0.0"),
])
def test_inputs_are_checked(kwargs, message):
    base = dict(knee_rps=36, peak_rps=40, avg_rps=20, headroom=0.3, redundancy="zone", zones=3,
                gpus_per_replica=1, gpus_per_node=1)
    with pytest.raises(ValueError) as exc:
        FleetInputs(**{**base, **kwargs})
    assert str(exc.value) == message
