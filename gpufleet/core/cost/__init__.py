"""Cost outputs and the finance report: a pure library over a dated price catalog.

`compute_stack_cost` prices one stack; `stack_cost_outputs` is what the Pulumi
program exports as `cost`; `gpufleet cost` renders many stacks for people.
"""

from gpufleet.core.cost.catalog import (
    PriceCatalog,
    PriceCatalogError,
    PriceNotFoundError,
    default_price_catalog,
    load_fx,
    load_price_catalog,
)
from gpufleet.core.cost.compute import compute_stack_cost
from gpufleet.core.cost.model import (
    HOURS_PER_MONTH,
    CostInputError,
    CostInputs,
    FxRate,
    LineItem,
    NodePoolInputs,
    StackCost,
    Totals,
)
from gpufleet.core.cost.outputs import stack_cost_from_outputs, stack_cost_outputs

__all__ = [
    "HOURS_PER_MONTH",
    "CostInputError",
    "CostInputs",
    "FxRate",
    "LineItem",
    "NodePoolInputs",
    "PriceCatalog",
    "PriceCatalogError",
    "PriceNotFoundError",
    "StackCost",
    "Totals",
    "compute_stack_cost",
    "default_price_catalog",
    "load_fx",
    "load_price_catalog",
    "stack_cost_from_outputs",
    "stack_cost_outputs",
]
