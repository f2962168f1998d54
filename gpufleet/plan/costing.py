"""What the planned fleet costs, through the existing cost engine (no second price table).

The stack is priced as `gpufleet cost` prices it (`cost_inputs_for` on the
typed config, `compute_stack_cost` on the dated price catalog), with the GPU
pool at the plan's node count for the average load ("desired") and for the
peak ("maximum"); every other line item (system pool, control plane, NAT,
load balancer, storage, logs) is the stack's own. The cost per 1M output
tokens comes from `cost_per_million_tokens` (gpufleet/core/cost/per_token.py),
the figure `gpufleet cost --loadtest` reports, at three throughputs:

* **at the knee**: the stack at its peak size, every planned replica at the
  knee's measured output tokens/s: the best a token can cost on this fleet;
* **at peak**: the same stack serving the peak rate;
* **at average**: the stack at its average size serving the average rate.

Output tokens per request are the knee's measured tokens/s over its rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gpufleet.core.config import StackConfig
from gpufleet.core.cost import StackCost, compute_stack_cost, default_price_catalog
from gpufleet.core.cost.outputs import HOURLY_PLACES, money, stack_cost_outputs
from gpufleet.core.cost.per_token import LoadTestResult, TokenCost, cost_per_million_tokens
from gpufleet.core.cost_inputs import cost_inputs_for, fx_for
from gpufleet.plan.fleet import FleetPlan

PER_MILLION_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class PlanCost:
    currency: str
    stack: StackCost  # desired = GPU pool at the average's nodes, maximum = at the peak's
    at_peak_size: StackCost  # GPU pool at the peak's nodes in both columns
    per_million: dict[str, TokenCost]  # "knee", "peak", "average"
    output_tokens_per_request: Decimal

    @property
    def monthly_average(self) -> Decimal:
        return self.stack.desired.monthly

    @property
    def monthly_peak(self) -> Decimal:
        return self.stack.maximum.monthly

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "monthly_average": money(self.stack.desired.monthly),
            "monthly_peak": money(self.stack.maximum.monthly),
            "monthly_average_usd": money(self.stack.desired_usd.monthly),
            "monthly_peak_usd": money(self.stack.maximum_usd.monthly),
            "hourly_average": money(self.stack.desired.hourly, HOURLY_PLACES),
            "hourly_peak": money(self.stack.maximum.hourly, HOURLY_PLACES),
            "output_tokens_per_request": str(self.output_tokens_per_request.quantize(Decimal("0.1"))),
            "per_million_output_tokens": {
                name: {"throughput_tokens_per_s": str(tc.loadtest.output_tokens_per_s.quantize(Decimal("0.1"))),
                       "per_million": money(tc.per_million, PER_MILLION_PLACES),
                       "per_million_usd": money(tc.per_million_usd, PER_MILLION_PLACES)}
                for name, tc in self.per_million.items()
            },
            "stack": stack_cost_outputs(self.stack),
        }


def _priced(cfg: StackConfig, gpu_desired: int, gpu_max: int) -> StackCost:
    """The stack with its GPU pool at these sizes, through `cost_inputs_for` (so a spot pool above an
    on-demand floor is split the way `gpufleet cost` splits it)."""
    pool = cfg.gpu_pool.model_copy(update={"desired_size": gpu_desired, "max_size": gpu_max,
                                           "min_size": min(cfg.gpu_pool.min_size, gpu_desired)})
    inputs = cost_inputs_for(cfg.model_copy(update={"gpu_pool": pool}))
    return compute_stack_cost(inputs, default_price_catalog(), fx_for(cfg))


def _throughput(label: str, model: str, tokens_per_s: Decimal) -> LoadTestResult:
    """The per-token function reads a load-test result; these throughputs are the plan's."""
    return LoadTestResult(path=f"plan:{label}", target="plan", model=model, duration_s=Decimal(0),
                          output_tokens_per_s=tokens_per_s, verdict="pass")


def plan_cost(cfg: StackConfig, fleet: FleetPlan, *, knee_rps: float, knee_tokens_per_s: float,
              model: str) -> PlanCost:
    """Monthly cost at average and peak and cost per 1M output tokens (see the module docstring)."""
    if not knee_tokens_per_s > 0:
        raise ValueError(f"the knee produced no output tokens ({knee_tokens_per_s!r} tokens/s); nothing to price")
    stack = _priced(cfg, fleet.pool_nodes_avg, fleet.pool_nodes_peak)
    at_peak = _priced(cfg, fleet.pool_nodes_peak, fleet.pool_nodes_peak)
    at_avg = _priced(cfg, fleet.pool_nodes_avg, fleet.pool_nodes_avg)
    knee_tps = Decimal(repr(knee_tokens_per_s))
    per_request = knee_tps / Decimal(repr(knee_rps))
    inputs = fleet.inputs
    per_million = {
        "knee": cost_per_million_tokens(at_peak, _throughput("knee", model, knee_tps * fleet.max_replicas)),
        "peak": cost_per_million_tokens(at_peak, _throughput("peak", model, Decimal(repr(inputs.peak_rps)) * per_request)),
        "average": cost_per_million_tokens(at_avg, _throughput("average", model, Decimal(repr(inputs.avg_rps)) * per_request)),
    }
    return PlanCost(stack.billing_currency, stack, at_peak, per_million, per_request)
