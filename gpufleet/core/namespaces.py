"""Config namespaces a stack may use; a misspelt one is an error, never ignored.

Pulumi passes every `namespace:key` to the program, and a key in a namespace
nothing reads is silently dropped: `gpufleat:compliance` would leave a public
China endpoint without its compliance block. So the namespace must be the
project's, a provider this stack uses, or Pulumi's own; anything else is
refused with the closest known name.
"""

from __future__ import annotations

import difflib
from typing import Any, Mapping

from gpufleet.core.errors import ConfigError

PULUMI_NAMESPACES = ("pulumi",)
# Providers every stack's program uses, whichever cloud it runs on.
SHARED_PROVIDERS = ("kubernetes",)
CLOUD_PROVIDERS = ("aws", "alicloud")


def allowed_namespaces(project: str, cloud: str | None) -> tuple[str, ...]:
    clouds = (cloud,) if cloud in CLOUD_PROVIDERS else CLOUD_PROVIDERS
    return tuple(sorted({project, *PULUMI_NAMESPACES, *SHARED_PROVIDERS, *clouds}))


def check_namespaces(raw: Mapping[str, Any], project: str, cloud: Any,
                     exempt: frozenset[str] = frozenset()) -> None:
    """ConfigError for the first key whose namespace is unknown, or is the other cloud's provider.

    `exempt` keys (the other cloud's region) have a more specific message elsewhere.
    """
    allowed = allowed_namespaces(project, cloud if isinstance(cloud, str) else None)
    known = tuple(sorted({project, *PULUMI_NAMESPACES, *SHARED_PROVIDERS, *CLOUD_PROVIDERS}))
    for key in sorted(raw):
        if key in exempt:
            continue
        namespace, sep, name = key.partition(":")
        if not sep or not namespace or not name:
            raise ConfigError(key, f"is not a 'namespace:key' config key (e.g. '{project}:team')")
        if namespace in allowed:
            continue
        if namespace in known:
            raise ConfigError(key, f"namespace {namespace!r} configures the {namespace} provider, which a stack "
                                   f"with gpufleet:cloud {cloud!r} does not use (allowed namespaces: {', '.join(allowed)})")
        guess = difflib.get_close_matches(namespace, known, n=1, cutoff=0.6)
        hint = f"; did you mean '{guess[0]}:{name}'?" if guess else ""
        raise ConfigError(key, f"unknown config namespace {namespace!r} (allowed: {', '.join(allowed)}){hint}")
