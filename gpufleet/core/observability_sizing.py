"""How much the metrics pipeline holds and ingests, from the stack's own sizes.

The estimate drives two things: the check that `storageGib` fits `retentionDays`
(a full disk stops Prometheus ingesting, silently blinding every alert), and the
monitoring lines of the stack's cost. Series per target are derived, not measured
on a cluster (see docs/observability.md, "Sizing"):
  * vLLM replica: 400 (7 histograms x up to 23 buckets, ~20 counters/gauges, HTTP);
  * GPU: 30 (dcgm-exporter's default counters, one series per field per GPU);
  * node: 3000 (node-exporter ~1000, kubelet and cAdvisor ~2000 for a dozen pods);
  * Envoy proxy: 1500 (per-cluster stats of a handful of routes), two proxies;
  * fixed: 5000 (kube-state-metrics, API server, Prometheus, Alertmanager, Grafana, operator).
Prometheus keeps 1-2 bytes per sample on disk (prometheus.io/docs/prometheus/latest/storage,
"Operational aspects"); we take 2 and add 30% for the WAL and compaction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gpufleet.core.errors import ConfigError
from gpufleet.core.observability_config import KEY, validate_observability

if TYPE_CHECKING:
    from gpufleet.core.catalog import InstanceCatalog
    from gpufleet.core.config import StackConfig

SERIES_PER_VLLM_REPLICA = 400
SERIES_PER_GPU = 30
SERIES_PER_NODE = 3000
SERIES_PER_ENVOY_PROXY = 1500
ENVOY_PROXIES = 2
SERIES_FIXED = 5000
BYTES_PER_SAMPLE = 2
DISK_HEADROOM = 1.3
SECONDS_PER_MONTH = 730 * 3600
GIB = 1024**3


@dataclass(frozen=True)
class MetricsFootprint:
    """Active series and monthly samples at the desired size and at the autoscaling maximum."""

    series: int
    series_max: int
    scrape_interval_s: int

    def samples_per_month(self, maximum: bool = False) -> int:
        return (self.series_max if maximum else self.series) * SECONDS_PER_MONTH // self.scrape_interval_s

    def disk_gib_needed(self, retention_days: int) -> float:
        """Disk one Prometheus replica needs to hold `retention_days` at the maximum size."""
        samples = self.series_max * retention_days * 86400 / self.scrape_interval_s
        return samples * BYTES_PER_SAMPLE * DISK_HEADROOM / GIB


def _series(cfg: "StackConfig", maximum: bool) -> int:
    gpu_nodes = cfg.gpu_pool.max_size if maximum else cfg.gpu_pool.desired_size
    system_nodes = cfg.system_pool.max_size if maximum else cfg.system_pool.desired_size
    replicas = sum(r.effective_max_replicas if maximum else r.replicas for r in cfg.releases.values())
    envoy = ENVOY_PROXIES * SERIES_PER_ENVOY_PROXY if cfg.traffic is not None else 0
    return (SERIES_FIXED + envoy + (gpu_nodes + system_nodes) * SERIES_PER_NODE
            + gpu_nodes * cfg.gpus_per_node * SERIES_PER_GPU + replicas * SERIES_PER_VLLM_REPLICA)


def footprint(cfg: "StackConfig") -> MetricsFootprint:
    return MetricsFootprint(_series(cfg, False), _series(cfg, True), cfg.observability.scrape_interval_s)


def check_observability(cfg: "StackConfig", catalog: "InstanceCatalog") -> None:
    """Remote-write residency, disk for the retention, and rules that can be generated from gpufleet:slo."""
    from gpufleet.core.slo_rules import stack_rule_groups

    obs = cfg.observability
    regions = catalog.cloud(cfg.cloud).regions
    mainland = tuple(sorted(r for r, f in regions.items() if f.mainland_china))
    validate_observability(obs, cloud=cfg.cloud, jurisdiction=cfg.jurisdiction, region=cfg.region,
                           mainland_regions=mainland)
    need = footprint(cfg).disk_gib_needed(obs.retention_days)
    if obs.storage_gib < need:
        raise ConfigError(f"{KEY}.storageGib", f"{obs.storage_gib} GiB cannot hold {obs.retention_days} days of "
                                               f"metrics at this stack's maximum size (needs {math.ceil(need)} GiB; "
                                               "raise storageGib or lower retentionDays)")
    stack_rule_groups(cfg)  # an objective outside vLLM's buckets or an unburnable budget fails here
