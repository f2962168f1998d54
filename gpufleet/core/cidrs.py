"""Judging an allow-list of CIDRs by the address space it opens, not by how it is spelt.

`0.0.0.0/0` is the whole internet, but so are `0.0.0.0/1` + `128.0.0.0/1`, and
so, for any practical purpose, is a /4. The rule (docs: README "Config rules"):

1. no single range that is not private may be broader than a /8
   (`MAX_PUBLIC_PREFIX`): a /8 is already 16.7 million addresses, a whole
   regional registry allocation; operators are a few offices and VPN egresses;
2. the whole list, overlaps merged, may not cover more than `max_share` of the
   public IPv4 space (default 1%, about 37 million addresses, i.e. two /8s),
   so many narrower ranges cannot add up to the same opening.

Private, shared (CGNAT), loopback and link-local space does not count as public.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable

MAX_PUBLIC_PREFIX = 8
DEFAULT_MAX_PUBLIC_SHARE = 0.01
NON_PUBLIC = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/3",
))
PUBLIC_ADDRESSES = 2**32 - sum(n.num_addresses for n in ipaddress.collapse_addresses(NON_PUBLIC))


def _public_part(net: ipaddress.IPv4Network) -> list[ipaddress.IPv4Network]:
    """`net` minus every non-public range."""
    parts = [net]
    for reserved in NON_PUBLIC:
        nxt: list[ipaddress.IPv4Network] = []
        for part in parts:
            if part.subnet_of(reserved):
                continue
            nxt.extend(part.address_exclude(reserved) if reserved.subnet_of(part) else [part])
        parts = nxt
    return parts


def public_addresses(nets: Iterable[ipaddress.IPv4Network]) -> int:
    """Public IPv4 addresses covered by `nets`, each counted once."""
    merged = ipaddress.collapse_addresses(nets)
    return sum(p.num_addresses for n in merged for p in _public_part(n))


def too_broad(net: ipaddress.IPv4Network) -> bool:
    """A non-private range broader than a /8."""
    return net.prefixlen < MAX_PUBLIC_PREFIX and bool(_public_part(net))


def exposure_problem(cidrs: Iterable[str], subject: str = "it",
                     max_share: float = DEFAULT_MAX_PUBLIC_SHARE) -> tuple[int | None, str] | None:
    """(index of the offending entry, or None for the list as a whole; why) or None when acceptable.

    Unparseable entries are left to the caller's own parser (they are skipped here).
    """
    nets: list[ipaddress.IPv4Network] = []
    for i, cidr in enumerate(cidrs):
        try:
            net = ipaddress.ip_network(str(cidr), strict=False)
        except ValueError:
            continue
        if not isinstance(net, ipaddress.IPv4Network):
            continue
        if net.prefixlen == 0:
            return i, f"{cidr} opens {subject} to the whole internet (allowed: specific operator CIDRs)"
        if too_broad(net):
            return i, (f"{cidr} opens {subject} to a public range broader than a /{MAX_PUBLIC_PREFIX} "
                       f"({net.num_addresses:,} addresses; allowed: /{MAX_PUBLIC_PREFIX} or narrower)")
        nets.append(net)
    covered = public_addresses(nets)
    if covered > max_share * PUBLIC_ADDRESSES:
        return None, (f"together open {subject} to {covered:,} public addresses, {covered / PUBLIC_ADDRESSES:.1%} "
                      f"of the public IPv4 space (allowed: at most {max_share * 100:g}%; list only your operators' CIDRs)")
    return None
