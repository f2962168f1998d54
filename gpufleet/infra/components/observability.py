"""The stack's metrics pipeline as one ComponentResource.

`gpufleet.core.observability_charts` and `...observability_manifests` decide what
exists; this component registers it through the stack's explicit provider:
the monitoring namespace and its NetworkPolicies, kube-prometheus-stack (CRDs,
operator, Prometheus, Alertmanager, Grafana, kube-state-metrics, node-exporter),
dcgm-exporter on the GPU nodes, metrics-server on EKS, then (once the CRDs exist)
a PodMonitor per release and for the gateway, the PrometheusRule generated from
`gpufleet:slo`, and the dashboards' ConfigMaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from gpufleet.core.config import StackConfig
from gpufleet.core.observability_charts import MONITORING_NAMESPACE, charts_for
from gpufleet.core.observability_manifests import observability_objects
from gpufleet.infra.components.model_server import child_name, register_objects

CHART_NAMESPACE = {"metrics-server": "kube-system"}
HELM_NAME = {"kube-prometheus-stack": "kps", "dcgm-exporter": "dcgm-exporter", "metrics-server": "metrics-server"}


@dataclass(frozen=True)
class ObservabilityArgs:
    config: StackConfig
    provider: k8s.Provider
    # Resources the scrape targets belong to (the model servers): monitors are created after them.
    after: Sequence[pulumi.Resource] = field(default_factory=tuple)


class Observability(pulumi.ComponentResource):
    """Prometheus Operator stack, GPU telemetry, monitors, SLO rules and dashboards for one stack."""

    def __init__(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not isinstance(args.provider, k8s.Provider):
            raise TypeError("an explicit pulumi_kubernetes.Provider is required (no ambient kubeconfig)")
        cfg = args.config
        objects = observability_objects(cfg)  # pure; fails before anything is registered
        charts = charts_for(cfg)
        super().__init__("gpufleet:k8s:Observability", name, None, opts)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.provider)
        plain = [o for o in objects if o["kind"] in ("Namespace", "NetworkPolicy")]
        base = register_objects(self, name, plain, args.provider, {})
        namespace = base[child_name(name, objects[0])]
        self.releases: dict[str, k8s.helm.v3.Release] = {}
        for chart, values in charts:
            ns = CHART_NAMESPACE.get(chart.name, MONITORING_NAMESPACE)
            self.releases[chart.name] = k8s.helm.v3.Release(
                f"{name}-{chart.name}",
                name=HELM_NAME[chart.name],
                chart=chart.chart,
                version=chart.version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo) if chart.repo else None,
                namespace=ns,
                create_namespace=False,
                values=values,
                atomic=True,
                cleanup_on_fail=True,
                timeout=900,
                opts=pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(
                    depends_on=[namespace, *base.values()] if ns == MONITORING_NAMESPACE else [])),
            )
        operator = self.releases["kube-prometheus-stack"]
        after_crds = pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(
            depends_on=[operator, *args.after]))
        self.custom_resources = [self._custom(name, o, after_crds) for o in objects
                                 if o["apiVersion"].startswith("monitoring.coreos.com/")]
        self.dashboards = [k8s.core.v1.ConfigMap(child_name(name, o), metadata=o["metadata"], data=o["data"],
                                                 opts=after_crds)
                           for o in objects if o["kind"] == "ConfigMap"]
        self.register_outputs({"namespace": MONITORING_NAMESPACE,
                               "rules": [o["metadata"]["name"] for o in objects if o["kind"] == "PrometheusRule"]})

    @staticmethod
    def _custom(name: str, obj: dict[str, Any], opts: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
        return k8s.apiextensions.CustomResource(
            child_name(name, obj), api_version=obj["apiVersion"], kind=obj["kind"],
            metadata=obj["metadata"], spec=obj["spec"], opts=opts)


def build_observability(cfg: StackConfig, cluster: Any, servers: dict[str, Any]) -> Observability:
    """The one call the program makes, after the model servers."""
    return Observability(f"{cfg.stack}-observability",
                         ObservabilityArgs(cfg, cluster.provider, tuple(servers.values())))
