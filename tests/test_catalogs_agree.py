"""The instance catalog and the price catalog must agree, so a stack that
validates can always be priced (and an unpriced type is never offered)."""

import pytest

from gpufleet.core.cost import default_price_catalog
from gpufleet.core.catalog import load_instance_catalog
from gpufleet.core.config import list_stacks, load_stack

CATALOG = load_instance_catalog()
PRICES = default_price_catalog()


@pytest.mark.parametrize("cloud", ["aws", "alicloud"])
def test_available_gpu_types_are_exactly_the_priced_ones(cloud):
    for region, facts in CATALOG.cloud(cloud).regions.items():
        if region not in PRICES.clouds[cloud].regions:
            assert not facts.available_gpu_types, f"{region} offers GPU types but has no prices"
            continue
        offered = PRICES.clouds[cloud].regions[region].instances
        priced = {t for t in CATALOG.cloud(cloud).gpu_types() if t in offered and offered[t].available}
        assert set(facts.available_gpu_types) == priced, region


@pytest.mark.parametrize("stack", list_stacks())
def test_every_shipped_stack_uses_priced_types(stack):
    cfg = load_stack(stack)
    offered = PRICES.clouds[cfg.cloud].regions[cfg.region].instances
    for pool in (cfg.system_pool, cfg.gpu_pool):
        assert offered[pool.instance_type].available, (stack, pool.instance_type)
