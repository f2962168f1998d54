"""What a stack costs, as the cost engine's inputs, from the same typed config the
resources are built from, so the two can never disagree.

Counts mirror the components: AWS has a NAT gateway and an EIP per zone, Alibaba
one enhanced NAT gateway with one EIP; each stack has one public load balancer
(the model endpoint's gateway); the bucket holds the weights of every release
that loads from it.
"""

from __future__ import annotations

from decimal import Decimal

from gpufleet.core import clouds
from gpufleet.core.config import NodePool, StackConfig, project_config_defaults
from gpufleet.core.cost.capacity import GpuPoolRange
from gpufleet.core.cost.model import CostInputs, FxRate, NodePoolInputs
from gpufleet.core.gpu_capacity import gpu_capacity_plan
from gpufleet.core.model_catalog import load_model_catalog

BILLING_CURRENCY = {name: cloud.billing_currency for name, cloud in clouds.CLOUDS.items()}
FX_SOURCE = "Pulumi.yaml / stack config gpufleet:cnyPerUsd"


def weights_in_bucket_gb(cfg: StackConfig) -> Decimal:
    catalog = load_model_catalog()
    models = {r.model for r in cfg.releases.values() if r.weights_source == "bucket"}
    return sum((Decimal(str(catalog.model(m).weights_gb)) for m in sorted(models)), Decimal(0))


def cost_inputs_for(cfg: StackConfig) -> CostInputs:
    zones = len(cfg.network.zones)
    per_zone = clouds.get(cfg.cloud).nat_per_zone
    return CostInputs(
        stack=cfg.stack,
        cloud=cfg.cloud,
        region=cfg.region,
        jurisdiction=cfg.jurisdiction,
        billing_currency=BILLING_CURRENCY[cfg.cloud],  # type: ignore[arg-type]
        node_pools=(_pool_inputs("system", cfg.system_pool), *_gpu_pool_inputs(cfg)),
        clusters=1,
        nat_gateways=zones if per_zone else 1,
        load_balancers=1,
        public_ips=zones if per_zone else 1,
        object_storage_gb=weights_in_bucket_gb(cfg),
        log_ingest_gb_month=cfg.billing.log_ingest_gb_month,
        log_retention_days=cfg.cluster.log_retention_days,
        nat_processed_gb_month=cfg.billing.nat_processed_gb_month,
        **monitoring_inputs(cfg),
    )


def monitoring_inputs(cfg: StackConfig) -> dict[str, Decimal]:
    """Prometheus volumes (GiB counted as GB, an upper bound of 7%) and remote-write samples a month."""
    from gpufleet.core.observability_sizing import footprint

    obs = cfg.observability
    out = {"monitoring_storage_gb": Decimal(obs.storage_gib * obs.prometheus_replicas)}
    if obs.remote_write is not None:
        f = footprint(cfg)
        out["managed_metrics_million_samples"] = Decimal(f.samples_per_month()) / 1_000_000
        out["managed_metrics_million_samples_max"] = Decimal(f.samples_per_month(maximum=True)) / 1_000_000
    return out


def _pool_inputs(name: str, pool: NodePool, capacity: str | None = None, desired: int | None = None,
                 maximum: int | None = None) -> NodePoolInputs:
    return NodePoolInputs(name=name, instance_type=pool.instance_type, capacity=capacity or pool.capacity,  # type: ignore[arg-type]
                          desired=pool.desired_size if desired is None else desired,
                          max=pool.max_size if maximum is None else maximum, disk_gb=pool.disk_size_gb)


def _gpu_pool_inputs(cfg: StackConfig) -> tuple[NodePoolInputs, ...]:
    """A spot pool above an on-demand floor bills as two lines: the floor on-demand, the rest spot."""
    pool = cfg.gpu_pool
    if pool.capacity != "spot" or not pool.on_demand_floor:
        return (_pool_inputs("gpu", pool),)
    floor = pool.on_demand_floor
    return (_pool_inputs("gpu", pool, "on-demand", min(pool.desired_size, floor), floor),
            _pool_inputs("gpu-spot", pool, "spot", max(0, pool.desired_size - floor), pool.max_size - floor))


def gpu_pool_range(cfg: StackConfig) -> GpuPoolRange:
    """The GPU pool as its autoscaler may grow it (Karpenter limits GPUs on EKS; ACK counts nodes)."""
    plan = gpu_capacity_plan(cfg)
    return GpuPoolRange(
        stack=cfg.stack, cloud=cfg.cloud, region=cfg.region, billing_currency=BILLING_CURRENCY[cfg.cloud],
        instance_types=plan.instance_types, gpus_per_node=dict(plan.gpus_per_node), min_nodes=plan.min_nodes,
        desired_nodes=plan.desired_nodes, max_nodes=plan.max_nodes,
        limit_unit=clouds.get(cfg.cloud).gpu_limit_unit, on_demand_nodes=plan.on_demand_floor_nodes)


def fx_for(cfg: StackConfig) -> FxRate:
    return FxRate(cny_per_usd=cfg.cny_per_usd, as_of=cfg.fx_as_of, source=FX_SOURCE)


def project_fx() -> FxRate:
    """The project-wide rate (Pulumi.yaml), for reports across stacks."""
    from datetime import date

    from gpufleet.core.cost.model import CostInputError

    raw = project_config_defaults()
    missing = [k for k in ("gpufleet:cnyPerUsd", "gpufleet:fxAsOf") if k not in raw]
    if missing:
        raise CostInputError(f"Pulumi.yaml: project config {missing[0]} is not set; declare gpufleet:cnyPerUsd and "
                             "gpufleet:fxAsOf under config: (or pass --cny-per-usd and --fx-as-of)")
    return FxRate(cny_per_usd=Decimal(str(raw["gpufleet:cnyPerUsd"])), as_of=date.fromisoformat(str(raw["gpufleet:fxAsOf"])),
                  source="Pulumi.yaml gpufleet:cnyPerUsd")
