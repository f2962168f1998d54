"""Bad autoscaling and GPU-capacity config: one exact line naming stack and key, nothing registered."""

import pytest

from conftest import edited_stack
from gpufleet.core.config import load_stack
from gpufleet.core.gpu_capacity import fitting_types, gpu_capacity_plan
from gpufleet.preview.engine import preview_stack

BAD = [
    ('prod-us-east-1', {'gpufleet:releases.green.autoscaling': {'minReplicas': 0}},
     "stack 'prod-us-east-1': gpufleet:releases.green.autoscaling.minReplicas: 0 (scale to zero) is not allowed in a prod stack (allowed: >= 1; scale to zero only where environment is not prod)"),
    ('prod-us-east-1', {'gpufleet:environment': 'staging', 'gpufleet:releases.green.autoscaling': {'minReplicas': 0}},
     "stack 'prod-us-east-1': gpufleet:releases.green.autoscaling.minReplicas: 0 needs autoscaling.scaleToZero: true (an explicit opt-in)"),
    ('prod-us-east-1', {'gpufleet:environment': 'staging', 'gpufleet:releases.green.autoscaling': {'scaleToZero': True}},
     "stack 'prod-us-east-1': gpufleet:releases.green.autoscaling.scaleToZero: needs autoscaling.minReplicas: 0 (got 1)"),
    ('prod-us-east-1', {'gpufleet:releases.green.autoscaling': {'scaleToZero': True, 'minReplicas': 0}},
     "stack 'prod-us-east-1': gpufleet:releases.green.autoscaling.minReplicas: 0 (scale to zero) is not allowed in a prod stack (allowed: >= 1; scale to zero only where environment is not prod)"),
    ('prod-us-east-1', {'gpufleet:releases.green.autoscaling': {'queuePerReplica': 0}},
     "stack 'prod-us-east-1': gpufleet:releases.green.autoscaling.queuePerReplica: Input should be greater than 0 (got 0)"),
    ('prod-us-east-1', {'gpufleet:releases.green.autoscaling': {'kvCacheUsage': 1.5}},
     "stack 'prod-us-east-1': gpufleet:releases.green.autoscaling.kvCacheUsage: Input should be less than or equal to 1 (got 1.5)"),
    ('prod-us-east-1', {'gpufleet:releases.green.autoscaling': {'fallbackReplicas': 9}},
     "stack 'prod-us-east-1': gpufleet:releases.green.autoscaling.fallbackReplicas: 9 is outside 1..3 (minReplicas..maxReplicas, at least 1)"),
    ('prod-us-east-1', {'gpufleet:releases.green.autoscaling': {'queueDepth': 3}},
     "stack 'prod-us-east-1': gpufleet:releases.green.autoscaling.queueDepth: is not a known key (allowed: fallbackReplicas, kvCacheUsage, maxReplicas, minReplicas, pollingIntervalS, queuePerReplica, scaleToZero, ttftSaturation)"),
    ('prod-us-east-1', {'gpufleet:releases.blue.autoscaling': {'minReplicas': 1}},
     "stack 'prod-us-east-1': gpufleet:releases.blue.autoscaling.minReplicas: is also set as releases.blue.minReplicas: set it in one place"),
    ('prod-us-east-1', {'gpufleet:gpuPool.instanceTypes': ['g6e.2xlarge', 'g5.xlarge']},
     "stack 'prod-us-east-1': gpufleet:gpuPool.instanceTypes.1: 'g5.xlarge' carries A10G-24GB, not the pool's L40S-48GB (the releases are sized for that GPU) (types that fit: g6e.2xlarge, g6e.12xlarge, g6e.48xlarge)"),
    ('prod-us-east-1', {'gpufleet:gpuPool.instanceTypes': ['g6e.2xlarge', 'p9.large']},
     "stack 'prod-us-east-1': gpufleet:gpuPool.instanceTypes.1: 'p9.large' is not offered in us-east-1 (allowed: g5.xlarge, g5.2xlarge, g5.12xlarge, g5.48xlarge, g6.xlarge, g6.2xlarge, g6.12xlarge, g6e.xlarge, g6e.2xlarge, g6e.12xlarge, g6e.48xlarge, p4d.24xlarge, p5.48xlarge)"),
    ('prod-us-east-1', {'gpufleet:gpuPool.instanceTypes': ['g6e.2xlarge', 'g6e.xlarge']},
     "stack 'prod-us-east-1': gpufleet:gpuPool.instanceTypes.1: 'g6e.xlarge' has 4 vCPU / 32 GiB; release 'blue' requests 6 vCPU / 48 GiB per replica (types that fit: g6e.2xlarge, g6e.12xlarge, g6e.48xlarge)"),
    ('prod-us-east-1', {'gpufleet:gpuPool.instanceTypes': ['g6e.12xlarge', 'g6e.2xlarge']},
     "stack 'prod-us-east-1': gpufleet:gpuPool.instanceTypes: must start with gpuPool.instanceType 'g6e.2xlarge' (got 'g6e.12xlarge'): the pool's own type is the first choice"),
    ('prod-us-east-1', {'gpufleet:gpuPool.onDemandFloor': 2},
     "stack 'prod-us-east-1': gpufleet:gpuPool.onDemandFloor: applies only with capacity: spot (on-demand pools are all on-demand)"),
    ('prod-us-east-1', {'gpufleet:systemPool.instanceTypes': ['m7i.2xlarge']},
     "stack 'prod-us-east-1': gpufleet:systemPool.instanceTypes: applies only to gpufleet:gpuPool (the system pool is a fixed managed group)"),
    ('prod-us-east-1', {'gpufleet:gpuPool.capacity': 'spot', 'gpufleet:gpuPool.onDemandFloor': 1},
     "stack 'prod-us-east-1': gpufleet:gpuPool.capacity: spot-only GPU capacity is not allowed for prod stacks (allowed: on-demand, or spot above gpuPool.onDemandFloor >= minSize 2)"),
    ('prod-us-east-1', {'gpufleet:gpuPool.capacity': 'spot', 'gpufleet:gpuPool.onDemandFloor': 20},
     "stack 'prod-us-east-1': gpufleet:gpuPool.onDemandFloor: 20 is above maxSize 16"),
]


@pytest.mark.parametrize("stack,changes,message", BAD, ids=[f"{i:02d}" for i in range(len(BAD))])
def test_bad_autoscaling_config_is_one_line_before_any_resource(stack, changes, message):
    preview = preview_stack(stack, text=edited_stack(stack, changes))
    assert (preview.ok, preview.error, preview.resources) == (False, message, [])


def test_fitting_types_keep_the_gpu_model_and_order_by_price_per_gpu():
    cfg = load_stack("prod-us-east-1")
    # g6e.xlarge (4 vCPU) cannot hold blue's 6-vCPU request; other GPU models are never mixed in.
    assert fitting_types(cfg) == ["g6e.2xlarge", "g6e.12xlarge", "g6e.48xlarge"]


def test_capacity_plan_ceiling_holds_for_any_type_mix():
    plan = gpu_capacity_plan(load_stack("prod-us-east-1"))
    assert plan.gpu_limit == 16  # maxSize 16 x 1 L40S
    # the most CPU per GPU among the allowed types: g6e.48xlarge, 192 vCPU / 8 GPUs = 24 per GPU
    assert plan.cpu_limit == 16 * 24
    assert (plan.capacity_types, plan.on_demand_floor_nodes) == (("on-demand",), 16)


def test_spot_above_an_on_demand_floor_is_allowed_in_prod():
    text = edited_stack("prod-us-east-1", {"gpufleet:gpuPool.capacity": "spot", "gpufleet:gpuPool.onDemandFloor": 2})
    preview = preview_stack("prod-us-east-1", text=text)
    assert preview.ok, preview.error
