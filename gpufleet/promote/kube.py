"""Is the candidate fully rolled out? Asked with the official Kubernetes client before every gate.

A gate that measures half-rolled-out pods measures the wrong thing, so the
check demands: observedGeneration >= generation, updatedReplicas ==
availableReplicas == spec.replicas > 0, and every pod of the Deployment
ready and not terminating. The kubeconfig comes from the stack output
`kubeconfig` and is loaded into a private client configuration; the ambient
kubeconfig and in-cluster config are never consulted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gpufleet.promote.machine import RolloutStatus
from gpufleet.core.traffic_names import backend_for


def _ready(pod: Any) -> bool:
    conditions = (pod.status.conditions if pod.status else None) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


def rollout_status(deployment: Any, pods: Sequence[Any]) -> RolloutStatus:
    """Pure judgement over a V1Deployment and its V1Pods (client model objects)."""
    meta, spec, status = deployment.metadata, deployment.spec, deployment.status
    name = f"{meta.namespace}/{meta.name}"
    wanted = spec.replicas if spec and spec.replicas is not None else 0
    observed = (status.observed_generation if status else None) or 0
    updated = (status.updated_replicas if status else None) or 0
    available = (status.available_replicas if status else None) or 0
    details = {
        "deployment": name,
        "generation": meta.generation,
        "observed_generation": observed,
        "replicas": wanted,
        "updated_replicas": updated,
        "available_replicas": available,
        "pods": len(pods),
    }
    problems = []
    if wanted <= 0:
        problems.append(f"spec.replicas is {wanted}")
    if observed < (meta.generation or 0):
        problems.append(f"observedGeneration {observed} < generation {meta.generation} (controller has not seen the latest spec)")
    if not wanted == updated == available:
        problems.append(f"replicas {wanted}, updated {updated}, available {available}")
    terminating = sorted(p.metadata.name for p in pods if p.metadata.deletion_timestamp is not None)
    unready = sorted(p.metadata.name for p in pods if p.metadata.deletion_timestamp is None and not _ready(p))
    if terminating:
        problems.append(f"pods terminating: {', '.join(terminating)}")
    if unready:
        problems.append(f"pods not ready: {', '.join(unready)}")
    if not problems and len(pods) != wanted:
        problems.append(f"{len(pods)} pods for {wanted} replicas")
    if problems:
        return RolloutStatus(False, f"{name} not fully rolled out: " + "; ".join(problems), details=details)
    return RolloutStatus(True, f"{name}: {wanted}/{wanted} replicas updated, available and ready", details=details)


def label_selector(match_labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(match_labels.items()))


class KubeRolloutCheck:
    """Reads the candidate's Deployment (`vllm-<release>` in `llm-<release>`) and its pods."""

    def __init__(self, kubeconfig: Mapping[str, Any], *, request_timeout_s: float = 15.0) -> None:
        from kubernetes import client, config

        configuration = client.Configuration()
        config.load_kube_config_from_dict(dict(kubeconfig), client_configuration=configuration, persist_config=False)
        api = client.ApiClient(configuration)
        self._apps = client.AppsV1Api(api)
        self._core = client.CoreV1Api(api)
        self._timeout = request_timeout_s

    def check(self, release: str) -> RolloutStatus:
        from kubernetes.client.exceptions import ApiException

        backend = backend_for(release)
        try:
            deployment = self._apps.read_namespaced_deployment(
                backend.service, backend.namespace, _request_timeout=self._timeout
            )
            selector = label_selector(deployment.spec.selector.match_labels or {})
            pods = self._core.list_namespaced_pod(
                backend.namespace, label_selector=selector, _request_timeout=self._timeout
            ).items
        except ApiException as exc:
            return RolloutStatus(False, f"cannot read {backend.namespace}/{backend.service}: {exc.status} {exc.reason}")
        return rollout_status(deployment, pods)


class SkippedRolloutCheck:
    """No cluster to ask (dry run against the local simulator); says so in every check."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def check(self, release: str) -> RolloutStatus:
        return RolloutStatus(True, self.reason, skipped=True)
