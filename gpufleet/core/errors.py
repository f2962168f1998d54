"""One error type for bad stack configuration.

Every validation problem becomes a `ConfigError` that names the config key and
what is allowed; `StackConfigError` adds the stack name so that the CLI and the
Pulumi program can print a single line and stop before any resource exists.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A problem with one config key, e.g. key='gpufleet:gpuPool.maxSize'."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


class StackConfigError(ValueError):
    """A `ConfigError` tied to the stack it was found in; str() is the one-line message."""

    def __init__(self, stack: str, key: str, message: str) -> None:
        self.stack = stack
        self.key = key
        self.message = message
        super().__init__(f"stack '{stack}': {key}: {message}")
