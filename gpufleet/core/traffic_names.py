"""Names the traffic layer and its clients agree on, with no Pulumi: the gateway's fixed names,
where each release's Service lives, the direct route to one release, the stack outputs.

The program builds the gateway with them; `gpufleet promote` finds a release's Deployment
and its direct URL with them, so both sides import this one module.
"""

from __future__ import annotations

from dataclasses import dataclass

from gpufleet.core.manifests import PORT
from gpufleet.core.scheduling import release_namespace

# The model-server NetworkPolicies admit clients from this namespace (see
# ReleaseRenderParams.client_namespaces); the Envoy proxies run here.
GATEWAY_NAMESPACE = "gateway"
GATEWAY_NAME = "gpufleet"
GATEWAY_CLASS = "gpufleet"
ENVOY_PROXY_NAME = "gpufleet"
ROUTE_NAME = "llm"
LISTENER_NAME = "http"
LISTENER_PORT = 80
# EnvoyProxy pins the load balancer Service's name so the program can read its address.
GATEWAY_SERVICE_NAME = "gpufleet-gateway"
RELEASE_HEADER = "x-gpufleet-release"
RELEASE_PATH_PREFIX = "/release/"
GATEWAY_API = "gateway.networking.k8s.io"
# Stack output names the `gpufleet promote` command reads.
OUTPUT_GATEWAY_ADDRESS = "gatewayAddress"


@dataclass(frozen=True)
class Backend:
    """Where one release's Service lives (the ModelServer component's naming)."""

    release: str
    namespace: str
    service: str
    port: int = PORT


def backend_for(release: str) -> Backend:
    return Backend(release, release_namespace(release), f"vllm-{release}")


def release_path(release: str) -> str:
    """The path prefix that reaches one release directly, whatever its weight."""
    return f"{RELEASE_PATH_PREFIX}{release}"
