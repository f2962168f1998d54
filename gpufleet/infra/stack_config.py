"""Inside `pulumi up`/preview: this stack's config, as the engine gave it, validated by the core.

The program's only reader of config. Secret keys (Pulumi marks a whole key secret when any
value inside it is) are passed on, so the core keeps them out of messages and the program can
mark whatever it builds from them as secret (`secret_input`).
"""

from __future__ import annotations

from typing import Any

import pulumi

from gpufleet.core.config import PROJECT, PROVIDER_REGION_KEYS, StackConfig, check_fleet, parse_stack_config
from gpufleet.infra import sdk_internals


def read_pulumi_config() -> StackConfig:
    """Read every config key of this stack and validate it; StackConfigError before any resource."""
    # pulumi.Config has no way to list keys, and unknown keys must be rejected,
    # so read the runtime's map (explicit settings first, then the environment).
    wanted = [k for k in sdk_internals.config_map() if k.startswith(f"{PROJECT}:")] + list(PROVIDER_REGION_KEYS.values())
    raw = {}
    for key in wanted:
        ns, _, name = key.partition(":")
        value = pulumi.Config(ns).get(name)
        if value is not None:
            raw[key] = value
    cfg = parse_stack_config(pulumi.get_stack(), raw, secret_keys=sdk_internals.secret_config_keys(raw))
    check_fleet(cfg)
    return cfg


def secret_input(cfg: StackConfig, key: str, value: Any) -> Any:
    """`value` as a secret Output when it comes from a secret config key (e.g. 'gpufleet:compliance')."""
    return pulumi.Output.secret(value) if key in cfg.secret_keys else value
