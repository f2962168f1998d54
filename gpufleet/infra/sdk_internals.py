"""Every private part of the Pulumi Python SDK that gpufleet relies on, in one place.

The offline preview runs the real program under the SDK's mock engine, once per stack
in one process, and the program lists its own config keys; the SDK has no public API
for either, so both go through these names. `tests/test_sdk_internals.py` is the
contract: it checks each one against the installed SDK, and `pyproject.toml` pins
`pulumi` to the minor versions that test has passed on. When the SDK changes, this
module and that test change together, nothing else.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Iterable, TypeVar

import pulumi
from pulumi.runtime import config as _config
from pulumi.runtime import mocks as _mocks
from pulumi.runtime import rpc as _rpc
from pulumi.runtime import settings as _settings
from pulumi.runtime.stack import run_in_stack as _run_in_stack
from pulumi.runtime.sync_await import _sync_await

T = TypeVar("T")

# How a secret travels in serialized properties: {SECRET_SIG: SECRET_VALUE, "value": ...}.
SECRET_SIG: str = _rpc._special_sig_key
SECRET_VALUE: str = _rpc._special_secret_sig
# A value known only after deployment, as serialized.
UNKNOWN: str = _rpc.UNKNOWN
# The SDK's in-process engine stand-in; the preview subclasses it to keep the stack outputs.
MockMonitor = _mocks.MockMonitor


def deserialize_properties(struct: Any) -> dict[str, Any]:
    """A protobuf Struct of properties as Python values, unknowns kept, internal keys dropped."""
    return _rpc.deserialize_properties(struct, keep_unknowns=True, keep_internal=False)


def is_unknown(value: Any) -> bool:
    return isinstance(value, pulumi.output.Unknown) or (isinstance(value, str) and value == UNKNOWN)


def config_map() -> dict[str, Any]:
    """Every config key the engine gave this program: the environment's, then explicit settings."""
    merged: dict[str, Any] = dict(_config.get_config_env())
    merged.update(_config.CONFIG.get())
    return merged


def secret_config_keys(keys: Iterable[str]) -> set[str]:
    """Which of `keys` the engine marked secret (set explicitly or through the environment)."""
    from_env = set(_config.get_config_secret_keys_env())
    return {k for k in keys if _config.is_config_secret(k) or k in from_env}


def set_config(config: dict[str, str], secret_keys: Iterable[str]) -> None:
    """Replace the whole config map and its secret keys (the engine does this before a run)."""
    _config.set_all_config(config, list(secret_keys))


def reset_root_resource() -> None:
    """Forget the stack resource, so that the next run registers its own."""
    _settings.ROOT.set(None)


def run_program(program: Callable[[], None]) -> None:
    """Run `program` as the stack's body and wait for every resource it registered."""
    _sync_await(_run_in_stack(program))


def sync_await(awaitable: Awaitable[T]) -> T:
    return _sync_await(awaitable)


def with_invoke_gating(info: Any) -> Any:
    """A DeploymentInfo that also advertises INVOKE_DEPENDS_ON, as the real engine does: invokes wait for
    their dependencies instead of answering unknown (the offline preview's workloads phase needs it)."""
    from pulumi.runtime.proto import resource_pb2

    info.supportedFeatures.append(resource_pb2.RESOURCE_MONITOR_FEATURE_INVOKE_DEPENDS_ON)
    return info
