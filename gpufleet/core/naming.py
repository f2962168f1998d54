"""Cloud-side names derived from the stack name, in one place.

Config validation needs some of them (a China release must pull from the
stack's own ACR host) before any component exists, so they live here rather
than in the components.
"""

from __future__ import annotations


def resource_name(stack: str, suffix: str = "") -> str:
    """project-stack[-suffix], short enough for every cloud API we call."""
    base = f"gpufleet-{stack}"
    return f"{base}-{suffix}" if suffix else base


def acr_instance_name(stack: str) -> str:
    return resource_name(stack, "acr")


def acr_vpc_host(stack: str, region: str) -> str:
    """The ACR Enterprise registry's VPC endpoint host, reachable only inside the stack's VPC."""
    return f"{acr_instance_name(stack)}-registry-vpc.{region}.cr.aliyuncs.com"


def ecr_host(account_id: str, region: str) -> str:
    return f"{account_id}.dkr.ecr.{region}.amazonaws.com"
