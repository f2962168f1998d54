"""Policy-pack configuration, read the way `pulumi --policy-pack-config` reads it.

The file maps a policy id (or `all`) to an enforcement level, or to an object
with `enforcementLevel` and the policy's own settings:

    {"all": "advisory", "cn-log-retention": {"enforcementLevel": "mandatory", "minDays": 365}}

A policy's own entry beats `all`, which beats the level in the registry. The
offline runner uses this module; inside Pulumi the CLI applies the same rules.
"""

from __future__ import annotations

from typing import Any, Mapping

from .model import PolicySpec

ENFORCEMENT_LEVELS = ("advisory", "mandatory", "remediate", "disabled")
PackConfig = Mapping[str, Any]


class PackConfigError(ValueError):
    """A policy-pack config entry that names no policy, a bad level or an unknown setting."""


def _level_of(entry: Any, where: str) -> str | None:
    level = entry.get("enforcementLevel") if isinstance(entry, Mapping) else entry
    if level is None:
        return None
    if level not in ENFORCEMENT_LEVELS:
        raise PackConfigError(f"{where}: enforcementLevel {level!r} is not one of {', '.join(ENFORCEMENT_LEVELS)}")
    return str(level)


def check_pack_config(config: PackConfig, policies: Mapping[str, PolicySpec]) -> None:
    """Reject entries for unknown policies, unknown settings and unknown levels."""
    for key, entry in config.items():
        if key != "all" and key not in policies:
            raise PackConfigError(f"{key}: no such policy (allowed: all, {', '.join(sorted(policies))})")
        if not isinstance(entry, (str, Mapping)):
            raise PackConfigError(f"{key}: must be an enforcement level or an object")
        _level_of(entry, key)
        if isinstance(entry, Mapping):
            allowed = {"enforcementLevel"} | (set(policies[key].config) if key != "all" else set())
            unknown = sorted(set(entry) - allowed)
            if unknown:
                raise PackConfigError(
                    f"{key}: unknown setting {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")


def effective_level(spec: PolicySpec, config: PackConfig) -> str:
    """mandatory | advisory | disabled for this policy under `config` (remediate counts as mandatory)."""
    level = _level_of(config.get(spec.id), spec.id) or _level_of(config.get("all"), "all") or spec.level
    return "mandatory" if level == "remediate" else level


def policy_settings(spec: PolicySpec, config: PackConfig) -> dict[str, Any]:
    """The policy's settings: schema defaults, overridden by its entry in `config`."""
    entry = config.get(spec.id)
    overrides = {k: v for k, v in entry.items() if k != "enforcementLevel"} if isinstance(entry, Mapping) else {}
    return {**spec.defaults(), **overrides}
