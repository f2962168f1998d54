"""Inside `pulumi up`/preview: this stack's config, as the engine gave it, validated by the core.

The program's only reader of config. Secret keys (Pulumi marks a whole key secret when any
value inside it is) are passed on, so the core keeps them out of messages and the program can
mark whatever it builds from them as secret (`secret_input`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi

from gpufleet.core.config import (PROJECT, PROVIDER_REGION_KEYS, SECRET_PLACEHOLDER, StackConfig, check_fleet,
                                  parse_stack_config)
from gpufleet.infra import sdk_internals


def read_pulumi_config(root: Path | None = None) -> StackConfig:
    """Read every config key of this stack and validate it; StackConfigError before any resource.

    `root`: the project whose sibling stacks the fleet checks read (the offline preview passes the
    one it previews; `pulumi up` leaves it None: found from the working directory)."""
    # pulumi.Config has no way to list keys, and unknown keys must be rejected,
    # so read the runtime's map (explicit settings first, then the environment).
    everything = sdk_internals.config_map()
    wanted = [k for k in everything if k.startswith(f"{PROJECT}:")] + list(PROVIDER_REGION_KEYS.values())
    raw = {}
    for key in wanted:
        ns, _, name = key.partition(":")
        value = pulumi.Config(ns).get(name)
        if value is not None:
            raw[key] = value
    secret_keys = sdk_internals.secret_config_keys(raw)
    # Every other namespace too, for the namespace and plaintext-credential checks (secrets masked).
    others = {k: v for k, v in everything.items() if k not in raw}
    hidden = sdk_internals.secret_config_keys(others)
    raw.update({k: SECRET_PLACEHOLDER if k in hidden else v for k, v in others.items()})
    cfg = parse_stack_config(pulumi.get_stack(), raw, secret_keys=secret_keys | hidden)
    check_fleet(cfg, root)
    return cfg


def secret_input(cfg: StackConfig, key: str, value: Any) -> Any:
    """`value` as a secret Output when it comes from a secret config key (e.g. 'gpufleet:compliance')."""
    return pulumi.Output.secret(value) if key in cfg.secret_keys else value
