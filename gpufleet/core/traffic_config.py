"""`gpufleet:traffic`: where a stack's public endpoint points and how its traffic is split.

Two levels of weights, both applied by `pulumi up`:

* `releaseWeights` split the requests that reach one stack's gateway between
  its releases (`blue`, `green` ...): an HTTPRoute with weighted backends;
* `stackWeight` is this stack's share of the public hostname among the stacks
  that serve it: one weighted DNS record per stack (Route 53 on AWS, Alibaba
  Cloud DNS on Alibaba Cloud).

Example::

    gpufleet:traffic:
      hostname: assistant.cn.example.com
      dnsZone: example.com
      stackWeight: 50
      releaseWeights: {blue: 90, green: 10}

The model only fixes the shape; `validate_traffic` (one stack) and
`validate_fleet` (all stacks) hold the rules, so that every message names the
key and what is allowed. China and global endpoints never share a DNS record.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from gpufleet.core import clouds
from gpufleet.core.errors import ConfigError, StackConfigError

PROJECT = "gpufleet"
KEY = f"{PROJECT}:traffic"
WEIGHT_MAX = 100
WEIGHT_TOTAL = 100
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_HOSTNAME_MAX = 253


def _weight(value: Any) -> int:
    """The same message from this module and from the stack config's error formatter."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= WEIGHT_MAX:
        raise PydanticCustomError("weight", f"must be an integer from 0 to {WEIGHT_MAX}")
    return value


Weight = Annotated[int, BeforeValidator(_weight)]


class TrafficConfig(BaseModel):
    """Frozen, camelCase keys, unknown keys rejected (a typo never silently keeps old weights)."""

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)

    hostname: str
    dns_zone: str
    stack_weight: Weight
    release_weights: dict[str, Weight]

    def weight_of(self, release: str) -> int:
        """A release not listed gets no share of the default route (it stays reachable by header)."""
        return self.release_weights.get(release, 0)

    def with_release_weights(self, weights: Mapping[str, int]) -> "TrafficConfig":
        """The same endpoint with other release weights (what a promotion step applies), re-validated."""
        return TrafficConfig.model_validate({**self.model_dump(), "release_weights": dict(weights)})

    def to_config(self) -> dict[str, Any]:
        """The `gpufleet:traffic` value as it is written in a stack file (camelCase)."""
        return self.model_dump(by_alias=True)


def key(*path: str) -> str:
    return KEY + "".join(f".{p}" for p in path)


# ---------------------------------------------------------------- parsing


def parse_traffic(raw: Any) -> TrafficConfig:
    """Build a TrafficConfig from the raw config value; the first problem becomes a ConfigError."""
    if not isinstance(raw, Mapping):
        raise ConfigError(KEY, f"must be a map with hostname, dnsZone, stackWeight, releaseWeights; got {type(raw).__name__}")
    try:
        return TrafficConfig.model_validate(dict(raw))
    except ValidationError as exc:
        errors = exc.errors()
        # A misspelt key explains the "missing" error that comes with it, so report it first.
        err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        loc = tuple(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            allowed = ", ".join(sorted(f.alias or n for n, f in TrafficConfig.model_fields.items()))
            raise ConfigError(key(*loc), f"unknown key (allowed: {allowed})") from None
        if err["type"] == "missing":
            raise ConfigError(key(*loc), "is required") from None
        # Same shape as gpufleet.core.config's formatter, so both paths print the same line.
        raise ConfigError(key(*loc), f"{err['msg']}; got {err['input']!r}") from None


# ---------------------------------------------------------------- one stack


def _check_hostname(value: str, config_key: str, what: str) -> None:
    labels = value.split(".")
    if (
        len(value) > _HOSTNAME_MAX
        or len(labels) < 2
        or not all(_LABEL.match(label) for label in labels)
    ):
        raise ConfigError(
            config_key,
            f"{value!r} is not a valid {what} (lowercase DNS labels of letters, digits and '-', "
            f"separated by '.', at most {_HOSTNAME_MAX} characters)",
        )


def validate_traffic(
    traffic: TrafficConfig,
    *,
    stack: str,
    jurisdiction: str,
    cloud: str,
    releases: Mapping[str, int],
) -> None:
    """Raise ConfigError for the first rule `traffic` breaks on this stack.

    `releases` maps each release name of the stack to its replicas. The caller
    wraps the error with the stack name; the cross-stack rules (jurisdictions
    sharing a hostname) are in `validate_fleet`.
    """
    if jurisdiction not in ("cn", "global") or cloud not in clouds.NAMES:
        raise ValueError(f"stack {stack!r}: unknown jurisdiction/cloud {jurisdiction!r}/{cloud!r}; validate the stack first")
    _check_hostname(traffic.dns_zone, key("dnsZone"), "DNS zone")
    _check_hostname(traffic.hostname, key("hostname"), "hostname")
    if not traffic.hostname.endswith("." + traffic.dns_zone):
        raise ConfigError(
            key("hostname"),
            f"{traffic.hostname!r} must be a name inside dnsZone {traffic.dns_zone!r} and not the zone apex "
            "(a weighted record at the apex cannot point at a load balancer)",
        )
    weights = traffic.release_weights
    if not weights:
        raise ConfigError(key("releaseWeights"), f"must name at least one release (allowed: {_names(releases)})")
    for name, weight in weights.items():
        if name not in releases:
            raise ConfigError(
                key("releaseWeights", name),
                f"{name!r} is not a release of this stack (allowed: {_names(releases)})",
            )
    total = sum(weights.values())
    if total != WEIGHT_TOTAL:
        listed = ", ".join(f"{n}={w}" for n, w in weights.items())
        raise ConfigError(key("releaseWeights"), f"weights must add up to {WEIGHT_TOTAL}; got {total} ({listed})")
    for name, weight in weights.items():
        if weight > 0 and releases[name] <= 0:
            raise ConfigError(
                key("releaseWeights", name),
                f"weight {weight} sends traffic to release {name!r}, which has {releases[name]} replicas "
                "(set the weight to 0 or give it replicas)",
            )


def _names(releases: Mapping[str, int]) -> str:
    return ", ".join(sorted(releases)) or "none; define gpufleet:releases first"


# ---------------------------------------------------------------- all stacks


def validate_fleet(traffic_by_stack: Mapping[str, tuple[str, TrafficConfig]]) -> None:
    """Cross-stack rules over `stack -> (jurisdiction, traffic)`; raises StackConfigError.

    Stacks that share a hostname share one weighted DNS record set, so they must
    be in one jurisdiction (China and global endpoints never share a record),
    agree on the DNS zone, and not all have weight 0.
    """
    by_host: dict[str, list[tuple[str, str, TrafficConfig]]] = {}
    for stack in sorted(traffic_by_stack):
        jurisdiction, traffic = traffic_by_stack[stack]
        by_host.setdefault(traffic.hostname.lower(), []).append((stack, jurisdiction, traffic))
    for host, members in sorted(by_host.items()):
        first_stack, first_jurisdiction, first = members[0]
        for stack, jurisdiction, traffic in members[1:]:
            if jurisdiction != first_jurisdiction:
                cn = ", ".join(s for s, j, _ in members if j == "cn")
                other = ", ".join(s for s, j, _ in members if j != "cn")
                raise StackConfigError(
                    stack,
                    key("hostname"),
                    f"{host!r} is shared by China stacks ({cn}) and global stacks ({other}); "
                    "China and global endpoints never share a DNS record (give each jurisdiction its own hostname)",
                )
            if traffic.dns_zone != first.dns_zone:
                raise StackConfigError(
                    stack,
                    key("dnsZone"),
                    f"{traffic.dns_zone!r} differs from {first.dns_zone!r} of stack '{first_stack}', "
                    f"which serves the same hostname {host!r}",
                )
        if all(t.stack_weight == 0 for _, _, t in members):
            stacks = [s for s, _, _ in members]
            raise StackConfigError(
                stacks[-1],
                key("stackWeight"),
                f"every stack serving {host!r} has stackWeight 0 ({', '.join(stacks)}); "
                "at least one must be above 0",
            )
