"""Pure address planning: private-range checks and per-zone subnet carving.

Kept apart from the components (as pulumi-awsx keeps its subnet maths) so the
arithmetic has its own tests and both clouds carve the VPC the same way.
"""

from __future__ import annotations

import ipaddress
import math

# RFC 1918 plus RFC 6598 shared space (ACK and EKS both accept 100.64.0.0/10 for pods).
PRIVATE_RANGES = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)
ALLOWED_RANGES = ", ".join(str(n) for n in PRIVATE_RANGES)


def ip_network(cidr: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(cidr, strict=True)
    except ValueError:
        raise ValueError(f"{cidr!r} is not a valid IPv4 CIDR with host bits zero, e.g. 10.0.0.0/16") from None
    if not isinstance(net, ipaddress.IPv4Network):
        raise ValueError(f"{cidr!r} is IPv6; only IPv4 CIDRs are supported")
    return net


def private_network(cidr: str) -> ipaddress.IPv4Network:
    net = ip_network(cidr)
    if not any(net.subnet_of(r) for r in PRIVATE_RANGES):
        raise ValueError(f"{cidr} is not a private range (allowed: within {ALLOWED_RANGES})")
    return net


def plan_subnets(vpc_cidr: str, zone_count: int) -> tuple[list[str], list[str]]:
    """Split a VPC into one large private and one small public subnet per zone.

    The VPC is cut into 2**k equal blocks (k the smallest with 2**k > zone_count):
    the first `zone_count` blocks are the private (node/pod) subnets, and the last
    block is cut again into `zone_count` public subnets for NAT gateways and load
    balancers. Private subnets must hold at least a /24.
    """
    vpc = ip_network(vpc_cidr)
    k = max(1, math.ceil(math.log2(zone_count + 1)))
    blocks = list(vpc.subnets(prefixlen_diff=k))
    private = blocks[:zone_count]
    if private[0].prefixlen > 24:
        raise ValueError(f"{vpc_cidr} is too small for {zone_count} zones (private subnets would be /{private[0].prefixlen}; use a /{24 - k} or larger)")
    j = max(1, math.ceil(math.log2(zone_count)))
    public = list(blocks[-1].subnets(prefixlen_diff=j))[:zone_count]
    return [str(n) for n in private], [str(n) for n in public]
