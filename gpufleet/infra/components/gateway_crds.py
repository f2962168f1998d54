"""Gateway API CRDs, pinned and installed explicitly before any Gateway or HTTPRoute.

ACK pre-installs Gateway API CRDs (possibly older), and Helm never upgrades
CRDs that already exist, so the chart's bundled copy cannot be relied on. We
apply the vendored upstream CRDs (`k8s/crds/gateway-api/`, v1.6.1 standard
channel, see its README for commit and licence) with server-side apply and
`pulumi.com/patchForce`, which takes the fields over from whichever manager
installed them first. Helm then finds them present and skips its own copy.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from gpufleet.core.crds import CRDS_DIR

GATEWAY_API_DIR = CRDS_DIR / "gateway-api"
GATEWAY_API_VERSION = "v1.6.1"


@lru_cache(maxsize=1)
def vendored_crds(directory: Path = GATEWAY_API_DIR) -> tuple[dict[str, Any], ...]:
    docs = []
    for path in sorted(directory.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                docs.append(doc)
    return tuple(docs)


def crd_kinds() -> dict[str, str]:
    """Kind -> CRD name for every vendored Gateway API CRD (e.g. HTTPRoute -> httproutes.gateway...)."""
    return {d["spec"]["names"]["kind"]: d["metadata"]["name"] for d in vendored_crds()}


class GatewayApiCrds(pulumi.ComponentResource):
    """One CustomResourceDefinition per vendored Gateway API CRD, through the stack's explicit provider."""

    def __init__(self, name: str, provider: k8s.Provider, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:k8s:GatewayApiCrds", name, None, opts)
        self.crds: dict[str, k8s.apiextensions.v1.CustomResourceDefinition] = {}
        for doc in vendored_crds():
            meta = doc["metadata"]
            annotations = {**meta.get("annotations", {}), "pulumi.com/patchForce": "true"}
            self.crds[doc["spec"]["names"]["kind"]] = k8s.apiextensions.v1.CustomResourceDefinition(
                f"{name}-{meta['name']}",
                metadata={"name": meta["name"], "annotations": annotations},
                spec=doc["spec"],
                opts=pulumi.ResourceOptions(parent=self, provider=provider),
            )
        self.register_outputs({"version": GATEWAY_API_VERSION, "crds": sorted(crd_kinds().values())})
