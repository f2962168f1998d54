"""The stack-level semantic checks `gpufleet.core.config` runs after the shape checks.

Placement (cloud, jurisdiction, region), network, node pools, releases and the
cluster: each raises `ConfigError` naming the key and what is allowed. Kept apart
from the config models so that each stays readable; `config._parse` runs them in
order (releases after the pools they must fit on).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gpufleet.core import cidrs, clouds, netplan
from gpufleet.core.autoscaling import check_autoscaling
from gpufleet.core.catalog import InstanceCatalog
from gpufleet.core.errors import ConfigError
from gpufleet.core.gpu_capacity import check_gpu_capacity
from gpufleet.core.release_config import Release, parse_image, validate_releases

if TYPE_CHECKING:
    from gpufleet.core.config import NodePool, StackConfig

PROJECT = "gpufleet"
PROVIDER_REGION_KEYS = clouds.REGION_KEYS
# China's Cybersecurity Law art. 21: network logs kept for no less than six months.
CN_MIN_LOG_RETENTION_DAYS = 184


def check_placement(raw_regions: Mapping[str, str | None], cfg: dict[str, Any], catalog: InstanceCatalog) -> str:
    """Cloud, jurisdiction and region must agree; returns the region."""
    cloud, jurisdiction = cfg.get("cloud"), cfg.get("jurisdiction")
    home = next((c for c in clouds.CLOUDS.values() if c.jurisdiction == jurisdiction), None)
    if home is not None and cloud != home.name:
        raise ConfigError(f"{PROJECT}:cloud", f"jurisdiction {jurisdiction!r} must run on {home.title} (allowed: {home.name}); got {cloud!r}")
    if cloud not in PROVIDER_REGION_KEYS:
        return ""  # pydantic reports the bad literal
    own_key = PROVIDER_REGION_KEYS[cloud]
    for other_cloud, other_key in PROVIDER_REGION_KEYS.items():
        if other_cloud != cloud and raw_regions.get(other_key):
            raise ConfigError(other_key, f"must not be set when gpufleet:cloud is {cloud!r} (set {own_key} only)")
    region = raw_regions.get(own_key)
    regions = catalog.cloud(cloud).regions
    if not region:
        raise ConfigError(own_key, f"is required when gpufleet:cloud is {cloud!r} (allowed: {', '.join(sorted(regions))})")
    if region not in regions:
        raise ConfigError(own_key, f"{region!r} is not in the instance catalog (allowed: {', '.join(sorted(regions))})")
    mainland = sorted(r for r, f in regions.items() if f.mainland_china)
    if jurisdiction == "cn" and not regions[region].mainland_china:
        raise ConfigError(own_key, f"jurisdiction 'cn' needs a mainland China region (allowed: {', '.join(mainland)}); got {region!r}, which is not mainland China")
    if jurisdiction == "global" and regions[region].mainland_china:
        allowed = sorted(r for r, f in regions.items() if not f.mainland_china)
        raise ConfigError(own_key, f"jurisdiction 'global' cannot use a China region (allowed: {', '.join(allowed)}); got {region!r}")
    return region


def check_network(cfg: StackConfig, catalog: InstanceCatalog) -> None:
    net = cfg.network
    zones_allowed = catalog.cloud(cfg.cloud).regions[cfg.region].zones
    if len(net.zones) < 2:
        raise ConfigError(f"{PROJECT}:network.zones", f"needs at least 2 zones for high availability (allowed: {', '.join(zones_allowed)}); got {len(net.zones)}")
    if len(set(net.zones)) != len(net.zones):
        raise ConfigError(f"{PROJECT}:network.zones", f"lists a zone twice; got {', '.join(net.zones)}")
    for i, zone in enumerate(net.zones):
        if zone not in zones_allowed:
            raise ConfigError(f"{PROJECT}:network.zones.{i}", f"{zone!r} is not a zone of {cfg.region} (allowed: {', '.join(zones_allowed)})")
    cidrs = {"vpcCidr": net.vpc_cidr, "serviceCidr": net.service_cidr}
    cloud = clouds.get(cfg.cloud)
    if cloud.needs_pod_cidr:
        if net.pod_cidr is None:
            raise ConfigError(f"{PROJECT}:network.podCidr", f"is required on {cloud.name} ({cloud.pod_network}), e.g. 172.20.0.0/16")
        cidrs["podCidr"] = net.pod_cidr
    elif net.pod_cidr is not None:
        raise ConfigError(f"{PROJECT}:network.podCidr", f"must not be set on {cloud.name} ({cloud.pod_network})")
    parsed = {}
    for name, value in cidrs.items():
        try:
            parsed[name] = netplan.private_network(value)
        except ValueError as exc:
            raise ConfigError(f"{PROJECT}:network.{name}", str(exc)) from None
    names = list(parsed)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if parsed[a].overlaps(parsed[b]):
                raise ConfigError(f"{PROJECT}:network.{b}", f"{cidrs[b]} overlaps network.{a} {cidrs[a]}; CIDRs must not overlap")
    try:
        netplan.plan_subnets(net.vpc_cidr, len(net.zones))
    except ValueError as exc:
        raise ConfigError(f"{PROJECT}:network.vpcCidr", str(exc)) from None
    why = cloud.check_service_cidr_prefix(parsed["serviceCidr"].prefixlen)
    if why:
        raise ConfigError(f"{PROJECT}:network.serviceCidr", f"{why}; got {net.service_cidr}")


def check_pool(cfg: StackConfig, catalog: InstanceCatalog, key: str, pool: NodePool, gpu: bool) -> None:
    cloud = catalog.cloud(cfg.cloud)
    k = f"{PROJECT}:{key}"
    if gpu:
        offered = cloud.regions[cfg.region].available_gpu_types
        if pool.instance_type not in offered:
            known = pool.instance_type in cloud.gpu_types()
            why = f"is not offered in {cfg.region}" if known else f"is not a known {cfg.cloud} GPU instance type"
            raise ConfigError(f"{k}.instanceType", f"{pool.instance_type!r} {why} (allowed: {', '.join(offered)})")
    elif pool.instance_type not in cloud.cpu_types():
        raise ConfigError(f"{k}.instanceType", f"{pool.instance_type!r} is not a known {cfg.cloud} system instance type (allowed: {', '.join(cloud.cpu_types())})")
    if not pool.min_size <= pool.desired_size <= pool.max_size:
        raise ConfigError(f"{k}.desiredSize", f"must satisfy minSize <= desiredSize <= maxSize; got minSize={pool.min_size}, desiredSize={pool.desired_size}, maxSize={pool.max_size}")
    if not gpu and pool.min_size < 2:
        raise ConfigError(f"{k}.minSize", f"the system pool runs cluster add-ons and needs at least 2 nodes; got {pool.min_size}")
    if not gpu:
        for field, alias in (("instance_types", "instanceTypes"), ("on_demand_floor", "onDemandFloor")):
            if getattr(pool, field) not in ((), None):
                raise ConfigError(f"{k}.{alias}", "applies only to gpufleet:gpuPool (the system pool is a fixed managed group)")


def in_stack_registry(cfg: StackConfig, releases: Mapping[str, Release]) -> dict[str, Release]:
    """On Alibaba the registry host is known from the stack name: spell short image names out in full."""
    host = clouds.get(cfg.cloud).registry_host(cfg.stack, cfg.region)
    if host is None:
        return dict(releases)
    return {n: r if "/" in r.image else r.model_copy(update={"image": f"{host}/gpufleet/{r.image}"})
            for n, r in releases.items()}


def check_releases(cfg: StackConfig) -> None:
    if not cfg.releases:
        raise ConfigError(f"{PROJECT}:releases", "needs at least one release (a name mapped to model, image, replicas)")
    cloud = clouds.get(cfg.cloud)
    registry = cloud.registry_host(cfg.stack, cfg.region) or ""
    validate_releases(cfg.releases, stack_cloud=cfg.cloud, jurisdiction=cfg.jurisdiction, region=cfg.region,
                      gpu_model=cfg.gpu_model, gpus_per_node=cfg.gpus_per_node,
                      gpu_pool_max_nodes=cfg.gpu_pool.max_size, registry_host=registry)
    check_gpu_capacity(cfg)
    for name, release in cfg.releases.items():
        check_autoscaling(f"{PROJECT}:releases.{name}", release.autoscaling, replicas=release.replicas,
                          min_replicas=release.effective_min_replicas, max_replicas=release.effective_max_replicas,
                          environment=cfg.environment)
    key = f"{PROJECT}:weightsFetcherImage"
    uses_bucket = [n for n, r in cfg.releases.items() if r.weights_source == "bucket"]
    if cfg.weights_fetcher_image is None:
        if not cloud.default_weights_fetcher and uses_bucket:
            raise ConfigError(key, f"is required on {cloud.name} when a release loads weights from {cloud.bucket_service} "
                                   f"(release {uses_bucket[0]!r}): {cloud.weights_fetcher_hint}")
        return
    ref = parse_image(cfg.weights_fetcher_image)
    if not (ref.tag and ref.digest):
        raise ConfigError(key, f"{cfg.weights_fetcher_image!r} must be pinned by tag and digest (registry/repository:tag@sha256:<64 hex>)")
    if cfg.jurisdiction == "cn" and ref.host != registry:
        raise ConfigError(key, f"{cfg.weights_fetcher_image!r} is not from the stack's ACR registry "
                               f"{registry!r} (China stacks pull images only from their own registry)")


def check_cluster(cfg: StackConfig, catalog: InstanceCatalog) -> None:
    c = cfg.cluster
    versions = catalog.cloud(cfg.cloud).kubernetes_versions
    if c.kubernetes_version not in versions:
        raise ConfigError(f"{PROJECT}:cluster.kubernetesVersion", f"{c.kubernetes_version!r} is not supported on {cfg.cloud} (allowed: {', '.join(versions)})")
    if c.public_endpoint:
        if not c.public_access_cidrs:
            raise ConfigError(f"{PROJECT}:cluster.publicAccessCidrs", "is required when cluster.publicEndpoint is true (allow-list the CIDRs of your operators)")
        for i, cidr in enumerate(c.public_access_cidrs):
            try:
                netplan.ip_network(cidr)
            except ValueError as exc:
                raise ConfigError(f"{PROJECT}:cluster.publicAccessCidrs.{i}", str(exc)) from None
        problem = cidrs.exposure_problem(c.public_access_cidrs, "the Kubernetes API")  # by address space, not spelling
        if problem is not None:
            where = "" if problem[0] is None else f".{problem[0]}"
            raise ConfigError(f"{PROJECT}:cluster.publicAccessCidrs{where}", problem[1])
        if not clouds.get(cfg.cloud).public_api_endpoint:
            raise ConfigError(f"{PROJECT}:cluster.publicEndpoint", "a public API server EIP is not supported for ACK stacks (allowed: false; reach the API over VPN or a bastion)")
    elif c.public_access_cidrs:
        raise ConfigError(f"{PROJECT}:cluster.publicAccessCidrs", "is only allowed when cluster.publicEndpoint is true")
    if cfg.jurisdiction == "cn" and c.log_retention_days < CN_MIN_LOG_RETENTION_DAYS:
        raise ConfigError(f"{PROJECT}:cluster.logRetentionDays", f"cn stacks keep logs at least {CN_MIN_LOG_RETENTION_DAYS} days (Cybersecurity Law art. 21); got {c.log_retention_days}")
    cloud = clouds.get(cfg.cloud)
    retention = cloud.log_retention_days()
    if retention is not None and c.log_retention_days not in retention:
        allowed = ", ".join(str(d) for d in retention)
        raise ConfigError(f"{PROJECT}:cluster.logRetentionDays", f"{cloud.log_service} accepts only these retention periods (allowed: {allowed}); got {c.log_retention_days}")
