"""Pulumi components that apply the rendered manifests as typed Kubernetes resources.

`gpufleet.core.manifests` decides what the objects are; these components only register
them, each as its typed pulumi_kubernetes class (so an offline preview lists
`kubernetes:apps/v1:Deployment` and so on), always through the stack's explicit
provider, never an ambient kubeconfig. Deploy-time strings (bucket URL, role
ARN) arrive as `{{token}}`s in the params and are bound to Outputs here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from gpufleet.core.gpu_plugin import GpuPluginRenderParams, render_gpu_plugin
from gpufleet.core.manifests import PORT, ReleaseRenderParams, render_release, rollout_seconds
from gpufleet.core.templates import substitute_tokens, tokens

KIND_TO_CLASS: dict[tuple[str, str], type[pulumi.CustomResource]] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "Service"): k8s.core.v1.Service,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("apps/v1", "DaemonSet"): k8s.apps.v1.DaemonSet,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
}
# Pulumi waits for a rollout; leave it 10 minutes beyond the Deployment's own deadline.
AWAIT_MARGIN_SECONDS = 600


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def bind_tokens(value: Any, late_inputs: Mapping[str, pulumi.Input[str]]) -> Any:
    """Replace `{{token}}` strings anywhere in `value` with Outputs of the bound inputs."""
    if isinstance(value, str):
        names = tokens(value)
        if not names:
            return value
        missing = sorted(set(names) - set(late_inputs))
        if missing:
            raise ValueError(f"no late input bound for token(s) {', '.join(missing)} in {value!r}")
        ordered = sorted(set(names))
        return pulumi.Output.all(*[late_inputs[n] for n in ordered]).apply(
            lambda resolved: substitute_tokens(value, dict(zip(ordered, resolved)))
        )
    if isinstance(value, dict):
        return {k: bind_tokens(v, late_inputs) for k, v in value.items()}
    if isinstance(value, list):
        return [bind_tokens(v, late_inputs) for v in value]
    return value


def child_name(component: str, obj: Mapping[str, Any]) -> str:
    """Pulumi name of one object: '<component>-<kind>-<metadata.name>'."""
    return f"{component}-{obj['kind'].lower()}-{obj['metadata']['name']}"


def register_objects(
    owner: pulumi.ComponentResource,
    component: str,
    objects: Sequence[Mapping[str, Any]],
    provider: k8s.Provider,
    late_inputs: Mapping[str, pulumi.Input[str]],
    timeouts: Mapping[str, pulumi.CustomTimeouts] | None = None,
    crd_owners: Mapping[str, Sequence[pulumi.Resource]] | None = None,
) -> dict[str, pulumi.CustomResource]:
    """Create each object as its typed resource; namespaced objects wait for their Namespace.

    Custom resources (an apiVersion group in `crd_owners`, e.g. keda.sh) become
    CustomResources that also wait for what installs their CRD (e.g. KEDA's Helm release).
    """
    if not isinstance(provider, k8s.Provider):
        raise TypeError("an explicit pulumi_kubernetes.Provider is required (no ambient kubeconfig)")
    created: dict[str, pulumi.CustomResource] = {}
    namespaces: dict[str, pulumi.CustomResource] = {}
    for obj in objects:
        group = obj["apiVersion"].rpartition("/")[0]
        cls = KIND_TO_CLASS.get((obj["apiVersion"], obj["kind"]))
        name = child_name(component, obj)
        namespace = obj["metadata"].get("namespace")
        depends = [namespaces[namespace]] if namespace in namespaces else []
        kwargs = {_snake(k): bind_tokens(v, late_inputs) for k, v in obj.items() if k not in ("apiVersion", "kind")}
        if cls is None and group in (crd_owners or {}):
            cls = k8s.apiextensions.CustomResource
            kwargs = {"api_version": obj["apiVersion"], "kind": obj["kind"], **kwargs}
            depends = [*depends, *crd_owners[group]]  # type: ignore[index]
        if cls is None:
            raise ValueError(f"no typed resource for {obj['apiVersion']} {obj['kind']}")
        resource = cls(
            name,
            **kwargs,
            opts=pulumi.ResourceOptions(
                parent=owner,
                provider=provider,
                depends_on=depends,
                custom_timeouts=(timeouts or {}).get(obj["kind"]),
            ),
        )
        if obj["kind"] == "Namespace":
            namespaces[obj["metadata"]["name"]] = resource
        created[name] = resource
    return created


@dataclass(frozen=True)
class ModelServerArgs:
    params: ReleaseRenderParams
    provider: k8s.Provider
    # Values for `{{token}}`s in params, e.g. {"weights_bucket_url": cluster.weights_bucket_url}.
    late_inputs: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # What installs KEDA's CRDs (its Helm release): the ScaledObject waits for it.
    keda: Sequence[pulumi.Resource] = ()


class ModelServer(pulumi.ComponentResource):
    """One vLLM release: namespace, identity, Deployment, Service, PDB, KEDA ScaledObject, NetworkPolicies."""

    service_name: pulumi.Output[str]
    namespace: pulumi.Output[str]
    endpoint: pulumi.Output[str]

    def __init__(self, name: str, args: ModelServerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:k8s:ModelServer", name, None, opts)
        objects = render_release(args.params)
        minutes = f"{math.ceil((rollout_seconds(args.params) + AWAIT_MARGIN_SECONDS) / 60)}m"
        self.resources = register_objects(
            self,
            name,
            objects,
            args.provider,
            args.late_inputs,
            timeouts={"Deployment": pulumi.CustomTimeouts(create=minutes, update=minutes)},
            crd_owners={"keda.sh": args.keda},
        )
        (service_obj,) = [o for o in objects if o["kind"] == "Service"]
        service = self.resources[child_name(name, service_obj)]
        self.service_name = service.metadata.apply(lambda m: m.name)  # type: ignore[attr-defined]
        self.namespace = service.metadata.apply(lambda m: m.namespace)  # type: ignore[attr-defined]
        self.endpoint = pulumi.Output.concat(
            "http://", self.service_name, ".", self.namespace, f".svc.cluster.local:{PORT}/v1"
        )
        self.register_outputs(
            {"service_name": self.service_name, "namespace": self.namespace, "endpoint": self.endpoint}
        )


@dataclass(frozen=True)
class GpuDevicePluginArgs:
    params: GpuPluginRenderParams
    provider: k8s.Provider


class GpuDevicePlugin(pulumi.ComponentResource):
    """The NVIDIA device plugin DaemonSet in its own namespace (GPU nodes only)."""

    namespace: pulumi.Output[str]

    def __init__(self, name: str, args: GpuDevicePluginArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:k8s:GpuDevicePlugin", name, None, opts)
        objects = render_gpu_plugin(args.params)
        self.resources = register_objects(self, name, objects, args.provider, {})
        (ns_obj,) = [o for o in objects if o["kind"] == "Namespace"]
        self.namespace = self.resources[child_name(name, ns_obj)].metadata.apply(  # type: ignore[attr-defined]
            lambda m: m.name
        )
        self.register_outputs({"namespace": self.namespace})
