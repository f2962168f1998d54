"""Reading Kubernetes objects as Pulumi registers them: {apiVersion, kind, metadata, spec}.

Workload rules look at pod templates wherever a kind keeps them, so one set of
helpers serves Deployments, StatefulSets, DaemonSets, Jobs, CronJobs and Pods.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from .props import as_list, get

MODEL_SERVER_COMPONENT = "model-server"
_POD_SPEC_PATHS = {
    "Pod": "spec",
    "Deployment": "spec.template.spec",
    "StatefulSet": "spec.template.spec",
    "DaemonSet": "spec.template.spec",
    "ReplicaSet": "spec.template.spec",
    "Job": "spec.template.spec",
    "CronJob": "spec.jobTemplate.spec.template.spec",
}
WORKLOAD_KINDS = frozenset(_POD_SPEC_PATHS)
# Kinds that serve traffic for a long time: probes and disruption budgets matter for them.
SERVING_KINDS = frozenset({"Deployment", "StatefulSet"})


def kind_of(resource_type: str) -> str:
    """'Deployment' for 'kubernetes:apps/v1:Deployment'; '' for anything not a Kubernetes object."""
    if not resource_type.startswith("kubernetes:") or resource_type.count(":") != 2:
        return ""
    group = resource_type.split(":")[1]
    if group.startswith(("helm.sh/", "yaml/", "kustomize/")):
        return ""
    return resource_type.rsplit(":", 1)[-1]


def name_of(props: Mapping[str, Any]) -> str:
    return str(get(props, "metadata.name", "") or "")


def namespace_of(props: Mapping[str, Any]) -> str:
    """The object's namespace; Kubernetes puts objects without one into 'default'."""
    return str(get(props, "metadata.namespace") or "default")


def labels_of(props: Mapping[str, Any]) -> Mapping[str, Any]:
    labels = get(props, "metadata.labels")
    return labels if isinstance(labels, Mapping) else {}


def pod_spec(kind: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    path = _POD_SPEC_PATHS.get(kind)
    spec = get(props, path) if path else None
    return spec if isinstance(spec, Mapping) else None


def pod_labels(kind: str, props: Mapping[str, Any]) -> Mapping[str, Any]:
    """Labels of the pods a workload creates (the template's), or the Pod's own."""
    if kind == "Pod":
        return labels_of(props)
    if kind not in _POD_SPEC_PATHS:
        return {}
    template = _POD_SPEC_PATHS[kind].removesuffix(".spec")  # 'spec.template'
    labels = get(props, f"{template}.metadata.labels")
    return labels if isinstance(labels, Mapping) else {}


def containers(spec: Mapping[str, Any], include_init: bool = True) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """('containers' | 'initContainers', container) for every container of a pod spec."""
    sections = ("initContainers", "containers") if include_init else ("containers",)
    for section in sections:
        for container in as_list(spec.get(section)):
            if isinstance(container, Mapping):
                yield section, container


def is_model_server(labels: Mapping[str, Any]) -> bool:
    """Model-server objects carry the component label or the model's cost-allocation label."""
    return labels.get("app.kubernetes.io/component") == MODEL_SERVER_COMPONENT or "gpufleet.io/model" in labels


def image_host(image: str) -> str:
    """The registry of an image reference, the way Docker reads it ('docker.io' when none is named)."""
    first, slash, _ = image.partition("@")[0].partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first.lower()
    return "docker.io"


def literal_env(container: Mapping[str, Any]) -> dict[str, Any]:
    """name -> literal `value` of a container's env entries (entries using valueFrom are left out)."""
    out: dict[str, Any] = {}
    for entry in as_list(container.get("env")):
        if isinstance(entry, Mapping) and "name" in entry and "value" in entry:
            out[str(entry["name"])] = entry["value"]
    return out


def container_label(section: str, container: Mapping[str, Any]) -> str:
    kind = "init container" if section == "initContainers" else "container"
    return f"{kind} {container.get('name', '?')!r}"
