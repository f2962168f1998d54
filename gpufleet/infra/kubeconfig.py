"""Kubeconfig documents for the explicit Kubernetes provider (never the ambient one).

Both clouds authenticate with an exec credential plugin, so the kubeconfig in
Pulumi state holds no credential: a later `refresh` or `destroy` works however
long after `up` it runs (a stored temporary certificate would have expired).
"""

from __future__ import annotations

from typing import Any

import yaml

ACK_CREDENTIAL_EXPIRATION = "3h"


def _exec_kubeconfig(name: str, server: str, ca_data: str, command: str, args: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "users": [{
            "name": name,
            "user": {"exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "command": command,
                "args": args,
                "interactiveMode": "Never",
            }},
        }],
    }


def eks_kubeconfig(cluster_name: str, endpoint: str, ca_data: str, region: str) -> dict[str, Any]:
    """A kubeconfig that authenticates with short-lived `aws eks get-token` tokens, so no credential is stored."""
    return _exec_kubeconfig(cluster_name, endpoint, ca_data, "aws",
                            ["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"])


def ack_kubeconfig(cluster_id: str, server: str, ca_data: str) -> dict[str, Any]:
    """ACK through `ack-ram-tool credential-plugin get-credential` (AliyunContainerService/ack-ram-tool):
    it fetches a short-lived client certificate with the caller's RAM identity whenever one is needed."""
    return _exec_kubeconfig(cluster_id, server, ca_data, "ack-ram-tool",
                            ["credential-plugin", "get-credential", "--cluster-id", cluster_id,
                             "--api-version", "v1beta1", "--expiration", ACK_CREDENTIAL_EXPIRATION,
                             "--log-level", "error"])


def cluster_of(kubeconfig_text: str) -> tuple[str, str]:
    """(API server URL, CA data) of the current context's cluster in a kubeconfig document."""
    doc = yaml.safe_load(kubeconfig_text) or {}
    contexts = {c["name"]: c["context"] for c in doc.get("contexts") or []}
    current = contexts.get(doc.get("current-context"), {})
    clusters = {c["name"]: c["cluster"] for c in doc.get("clusters") or []}
    cluster = clusters.get(current.get("cluster")) or next(iter(clusters.values()), {})
    if not cluster.get("server") or not cluster.get("certificate-authority-data"):
        raise ValueError("the ACK credential's kubeconfig names no API server or CA")
    return cluster["server"], cluster["certificate-authority-data"]
