"""The CrossGuard side: each PolicySpec as a pulumi_policy Resource/StackValidationPolicy.

Inside `pulumi preview/up --policy-pack policy` the analyzer hands each policy
the resource's inputs (proxied, with unknowns during preview), its provider and
the policy's config from `--policy-pack-config`. Stack facts come from the
stack's own config (policy packs can read it through `pulumi.Config`), falling
back to the resources' tags and their provider's region.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError
from pulumi_policy.secret import Secret

from gpufleet.core import clouds
from gpufleet.core.compliance_config import parse_compliance

from .context import context_from_resources
from .model import UNKNOWN, PolicyContext, PolicySpec, Resource, StackContext
from .props import tags_of
from .registry import POLICIES

PACK_NAME = "gpufleet-compliance"
PACK_DESCRIPTION = ("gpufleet residency, China service, cloud hardening and workload hardening rules "
                    "(see docs/policies.md).")


def plain(value: Any) -> Any:
    """Unwrap the analyzer's proxies into dicts and lists; values unknown during preview become UNKNOWN."""
    if isinstance(value, Secret):
        return plain(value.value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in value:
            try:
                out[str(key)] = plain(value[key])
            except UnknownValueError:
                out[str(key)] = UNKNOWN
        return out
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items: list[Any] = []
        for i in range(len(value)):
            try:
                items.append(plain(value[i]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def stack_config_context() -> StackContext | None:
    """The stack's jurisdiction, cloud, region and compliance from its Pulumi config; None when unreadable."""
    try:
        import pulumi

        gpufleet = pulumi.Config("gpufleet")
        jurisdiction, cloud = gpufleet.get("jurisdiction"), gpufleet.get("cloud")
        if not jurisdiction and not cloud:
            return None
        region = pulumi.Config(cloud).get("region") if cloud in clouds.NAMES else None
        stack = pulumi.get_stack()
        raw = gpufleet.get("compliance")
    except Exception:  # noqa: BLE001 - no engine settings or config: fall back to tags
        return None
    config = _masked_config()
    try:
        return StackContext(stack, cloud, region, jurisdiction, compliance=parse_compliance(raw), config=config)
    except ValueError as exc:  # pydantic's ValidationError and bad JSON are ValueErrors
        return StackContext(stack, cloud, region, jurisdiction, compliance_error=str(exc).splitlines()[0],
                            config=config)


def _masked_config() -> dict[str, Any]:
    """The stack's config as the engine passed it, secret values replaced (for no-plaintext-keys)."""
    try:
        from pulumi.runtime import config as runtime_config

        secret = set(runtime_config.get_config_secret_keys_env())
        return {k: "[secret]" if k in secret or runtime_config.is_config_secret(k) else v
                for k, v in runtime_config.get_config_env().items()}
    except Exception:  # noqa: BLE001 - no engine settings: nothing to scan
        return {}


def _settings(spec: PolicySpec, config: Mapping[str, Any] | None) -> dict[str, Any]:
    return {**spec.defaults(), **dict(config or {})}


def resource_context(props: Mapping[str, Any], provider_props: Mapping[str, Any] | None) -> StackContext:
    """Stack config first; the resource's own tags and its provider's region fill the gaps."""
    base = stack_config_context() or StackContext(None, None, None, None)
    tags = {k: v for k, v in tags_of(props).items() if isinstance(v, str) and v}
    region = (provider_props or {}).get("region")
    return StackContext(
        stack=base.stack or tags.get("stack"),
        cloud=base.cloud,
        region=region if isinstance(region, str) and region else base.region,
        jurisdiction=base.jurisdiction or tags.get("jurisdiction"),
        compliance=base.compliance,
        compliance_error=base.compliance_error,
    )


def _resource_policy(spec: PolicySpec) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        props = plain(args.props)
        provider_props = plain(args.provider.props) if args.provider is not None else None
        ctx = PolicyContext(resource_context(props, provider_props), _settings(spec, args.get_config()))
        for message in spec.validate(args.resource_type, props, ctx):  # type: ignore[call-arg]
            report_violation(message, None)

    return ResourceValidationPolicy(name=spec.id, description=spec.description, validate=validate,
                                    enforcement_level=EnforcementLevel(spec.level), config_schema=_schema(spec))


def _stack_policy(spec: PolicySpec) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [Resource(r.resource_type, r.name, plain(r.props), r.urn) for r in args.resources]
        stack = stack_config_context() or context_from_resources(resources)
        ctx = PolicyContext(stack, _settings(spec, args.get_config()))
        for violation in spec.validate(resources, ctx):  # type: ignore[call-arg]
            report_violation(violation.message, violation.resource.urn if violation.resource else None)

    return StackValidationPolicy(name=spec.id, description=spec.description, validate=validate,
                                 enforcement_level=EnforcementLevel(spec.level), config_schema=_schema(spec))


def _schema(spec: PolicySpec) -> PolicyConfigSchema | None:
    return PolicyConfigSchema(properties={k: dict(v) for k, v in spec.config.items()}) if spec.config else None


def to_pulumi_policy(spec: PolicySpec) -> Policy:
    return _resource_policy(spec) if spec.scope == "resource" else _stack_policy(spec)


def pulumi_policies(specs: Sequence[PolicySpec] = POLICIES) -> list[Policy]:
    """Every policy of the pack, ready for `pulumi_policy.PolicyPack`."""
    return [to_pulumi_policy(spec) for spec in specs]
