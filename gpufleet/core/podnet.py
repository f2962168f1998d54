"""Terway pod vSwitches: the stack's pod CIDR, split into one block per zone.

Terway gives pods addresses from vSwitches of their own. They live on a VPC
secondary CIDR block (the stack's `network.podCidr`), so pod addresses never
compete with the nodes' and the config keeps one key for the pod network.
"""

from __future__ import annotations

import ipaddress

MAX_ZONES = 8  # /3 more bits: up to 8 zones, each an eighth of the pod CIDR


def pod_subnets(pod_cidr: str, zones: int) -> list[str]:
    """One CIDR per zone, in zone order, each an eighth of `pod_cidr` (a /16 gives /19s: 8190 pods each)."""
    if not 1 <= zones <= MAX_ZONES:
        raise ValueError(f"pod vSwitches are planned for 1 to {MAX_ZONES} zones; got {zones}")
    network = ipaddress.ip_network(pod_cidr, strict=True)
    return [str(s) for s in list(network.subnets(prefixlen_diff=3))[:zones]]
