"""The Pulumi program: load config, then run one phase of the stack.

Two phases per region, each its own Pulumi stack (same stack name, two
projects, one stack file; see docs/deploy.md):

- `platform` (project `gpufleet`, `infra/`): network, cluster, node pools,
  registry, buckets, KMS, logs, IAM/RAM. No Kubernetes object.
- `workloads` (project `gpufleet-workloads`, `workloads/`): everything
  Kubernetes, through a provider built from the platform's outputs
  (StackReference), after the images and weights are in place.

Kept as functions (not module-level code) so the offline preview can run both
phases for every stack in one process.
"""

from __future__ import annotations

from pathlib import Path

import pulumi

from gpufleet.core.config import StackConfig
from gpufleet.infra.stack_config import read_pulumi_config
from gpufleet.core.errors import StackConfigError
from gpufleet.infra.clouds import binding
from gpufleet.infra.components.base import PlatformResult, gpu_node_selector, gpu_tolerations

PLATFORM, WORKLOADS = "platform", "workloads"
PHASES = (PLATFORM, WORKLOADS)


def export_platform(cfg: StackConfig, platform: PlatformResult, cost: dict) -> None:
    """What people read and what the workloads phase needs (names are the StackReference contract)."""
    pulumi.export("phase", PLATFORM)
    pulumi.export("cloud", cfg.cloud)
    pulumi.export("region", cfg.region)
    pulumi.export("jurisdiction", cfg.jurisdiction)
    pulumi.export("clusterName", platform.cluster_name)
    pulumi.export("vpcId", platform.vpc_id)
    pulumi.export("registryUrl", platform.registry_url)
    pulumi.export("weightsBucketUrl", platform.weights_bucket_url)
    pulumi.export("weightsReaderRoleArn", platform.weights_reader_role_arn)
    for key, value in platform.access.items():
        pulumi.export(key, value)
    pulumi.export("registry", platform.registry)
    pulumi.export("gpuPool", {
        "instanceType": cfg.gpu_pool.instance_type,
        "gpuModel": cfg.gpu_model,
        "gpusPerNode": cfg.gpus_per_node,
        "minSize": cfg.gpu_pool.min_size,
        "desiredSize": cfg.gpu_pool.desired_size,
        "maxSize": cfg.gpu_pool.max_size,
        "capacity": cfg.gpu_pool.capacity,
        "nodeSelector": gpu_node_selector(cfg),
        "tolerations": gpu_tolerations(),
    })
    pulumi.export("cost", cost)


def stack_cost(cfg: StackConfig) -> dict:
    """The cost export; an instance type without a price stops the program like bad config."""
    from gpufleet.core.cost import PriceNotFoundError, compute_stack_cost, default_price_catalog, stack_cost_outputs
    from gpufleet.core.cost.capacity import capacity_outputs
    from gpufleet.core.cost_inputs import cost_inputs_for, fx_for, gpu_pool_range
    try:
        cost = compute_stack_cost(cost_inputs_for(cfg), default_price_catalog(), fx_for(cfg))
        capacity = capacity_outputs(gpu_pool_range(cfg), default_price_catalog(), fx_for(cfg))
    except PriceNotFoundError as exc:
        key = "gpufleet:gpuPool.instanceType" if cfg.gpu_pool.instance_type in str(exc) else "gpufleet:systemPool.instanceType"
        raise StackConfigError(cfg.stack, key, str(exc).removeprefix(f"stack '{cfg.stack}': ")) from None
    # the GPU pool's floor, desired size and ceiling across the instance types it may use
    return {**stack_cost_outputs(cost), "gpu_capacity": capacity}


def main(phase: str = PLATFORM, root: Path | None = None) -> None:
    """`root`: the project being deployed or previewed (its sibling stacks feed the fleet checks)."""
    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r} (allowed: {', '.join(PHASES)})")
    cfg = read_pulumi_config(root)  # raises StackConfigError before any resource exists
    if phase == PLATFORM:
        cost = stack_cost(cfg)  # so does an unpriced instance type
        export_platform(cfg, binding(cfg.cloud).build_platform(cfg), cost)
        return
    from gpufleet.infra.workloads import run_workloads
    run_workloads(cfg)


def main_workloads() -> None:
    main(WORKLOADS)
