"""The only reader of stack configuration.

`pulumi up` reads config through `pulumi.Config` (gpufleet.infra.stack_config); the
`gpufleet` tools read the same stack files directly, from the project that
gpufleet.core.project finds as `pulumi` does. Both paths end in
`parse_stack_config`, which turns the raw key/value map into a frozen, validated
`StackConfig` or raises `StackConfigError` with one line that names the stack,
the key and what is allowed. Nothing is registered before this has succeeded.
"""

from __future__ import annotations

import json
from datetime import date
from functools import lru_cache
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError
from pydantic.alias_generators import to_camel

from gpufleet.core.slo import SloSpec
from gpufleet.core import clouds
from gpufleet.core import bounds, credentials, namespaces, stack_checks, stackfile
from gpufleet.core.catalog import InstanceCatalog, InstanceType, load_instance_catalog
from gpufleet.core.compliance_config import ComplianceConfig
from gpufleet.core.errors import ConfigError, StackConfigError
from gpufleet.core.moderation_stage import check_moderation
from gpufleet.core.project import config_defaults, find_project
from gpufleet.core import secrets as secret_values
from gpufleet.core.observability_config import ObservabilityConfig
from gpufleet.core.promotion_config import PromotionConfig, validate_promotion
from gpufleet.core.release_config import Release, parse_releases
from gpufleet.core.traffic_config import TrafficConfig, validate_fleet, validate_traffic

PROJECT = "gpufleet"
PROVIDER_REGION_KEYS = clouds.REGION_KEYS
SECRET_PLACEHOLDER = secret_values.SECRET_PLACEHOLDER


class _Model(BaseModel):
    """Frozen, camelCase in YAML, unknown keys rejected (typos never fall back to defaults)."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )


class NodePool(_Model):
    instance_type: str
    min_size: int = Field(ge=0)
    desired_size: int = Field(ge=0)
    max_size: int = Field(ge=1)
    disk_size_gb: int = Field(default=100, ge=20, le=2000)
    capacity: Literal["on-demand", "spot"] = "on-demand"
    # GPU pool only: the instance types the autoscaler may use, in order of preference
    # (default: every offered type that fits the releases; see core/gpu_capacity.py).
    instance_types: tuple[str, ...] = Field(default=(), max_length=20)
    # GPU pool with capacity spot only: nodes that stay on-demand (spot is used above it).
    on_demand_floor: int | None = Field(default=None, ge=0)


class Network(_Model):
    vpc_cidr: str
    zones: tuple[str, ...]
    service_cidr: str
    # Alibaba ACK with Terway: pod vSwitches on this VPC secondary CIDR; on AWS pods take VPC addresses (VPC CNI).
    pod_cidr: str | None = None


class Cluster(_Model):
    kubernetes_version: str
    public_endpoint: bool = False
    public_access_cidrs: tuple[str, ...] = ()
    log_retention_days: int = Field(default=365, ge=1, le=3650)
    deletion_protection: bool = True


class Billing(_Model):
    """Monthly volumes the cost report cannot read from the resources themselves."""

    log_ingest_gb_month: Decimal = Field(default=Decimal(50), ge=0)
    nat_processed_gb_month: Decimal = Field(default=Decimal(200), ge=0)


class StackConfig(_Model):
    """Everything one stack needs, validated. Field aliases are the `gpufleet:` keys."""

    stack: str = Field(exclude=True)
    cloud: Literal[clouds.NAMES]  # type: ignore[valid-type]
    region: str = Field(exclude=True)
    jurisdiction: Literal["cn", "global"]
    environment: Literal["prod", "staging", "dev"]
    team: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    cost_centre: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")
    network: Network
    cluster: Cluster
    system_pool: NodePool
    gpu_pool: NodePool
    releases: dict[str, Release]
    # Throughput and latency objectives a release must meet before traffic moves to it.
    slo: SloSpec
    # Image with the cloud's storage CLI that copies bucket weights (required on
    # alicloud when a release loads weights from OSS; AWS has a default).
    weights_fetcher_image: str | None = None
    # Project-wide in Pulumi.yaml; a stack may override.
    cny_per_usd: Decimal = Field(gt=Decimal("0.5"), lt=Decimal(50))
    fx_as_of: date
    billing: Billing = Billing()
    # What the stack declares about its public service (China: ICP and AI filings, moderation).
    compliance: ComplianceConfig = ComplianceConfig()
    # Public endpoint and weights: between this stack's releases, and of this stack in its
    # jurisdiction's weighted DNS record. Without it the model servers take no public traffic.
    traffic: TrafficConfig | None = None
    # The metrics pipeline: retention, storage, scrape interval, optional in-region remote write.
    observability: ObservabilityConfig = ObservabilityConfig()
    # How `gpufleet promote` analyses live traffic at every step (see core/promotion_config.py).
    promotion: PromotionConfig = PromotionConfig()
    # Config keys Pulumi holds as secrets (a nested `secure:` makes its whole key secret).
    _secret_keys: frozenset[str] = PrivateAttr(default=frozenset())

    @property
    def secret_keys(self) -> frozenset[str]:
        return self._secret_keys

    # -- derived facts, so that components never re-derive them differently --
    @property
    def project(self) -> str:
        return PROJECT

    @property
    def gpu_instance(self) -> InstanceType:
        return load_instance_catalog().cloud(self.cloud).instance_types[self.gpu_pool.instance_type]

    @property
    def gpus_per_node(self) -> int:
        gpu = self.gpu_instance.gpu
        assert gpu is not None
        return gpu.count

    @property
    def gpu_model(self) -> str:
        gpu = self.gpu_instance.gpu
        assert gpu is not None
        return gpu.model

    @property
    def tags(self) -> dict[str, str]:
        """The one set of tags every taggable resource carries (cost allocation)."""
        return {
            "project": PROJECT,
            "stack": self.stack,
            "environment": self.environment,
            "team": self.team,
            "cost-centre": self.cost_centre,
            "jurisdiction": self.jurisdiction,
            "managed-by": "pulumi",
        }


# Top-level `gpufleet:` keys, derived from the model so the list cannot drift.
PROJECT_KEYS = tuple(
    sorted(f.alias or name for name, f in StackConfig.model_fields.items() if name not in ("stack", "region"))
)


def _key(path: tuple[str | int, ...]) -> str:
    head, *rest = [str(p) for p in path]
    return f"{PROJECT}:{head}" + "".join(f".{p}" for p in rest)


def _model_at(path: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the last element of a config path, if any."""
    model: type[BaseModel] | None = StackConfig
    for part in path:
        if model is None or isinstance(part, int):
            continue
        by_alias = {(f.alias or n): f for n, f in model.model_fields.items()}
        field = by_alias.get(str(part))
        if field is None:
            return model
        ann = field.annotation
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
        if model is None:
            args = getattr(ann, "__args__", ())
            nested = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            model = nested[0] if nested else None
    return model


def _allowed_keys(model: type[BaseModel]) -> str:
    return ", ".join(sorted(f.alias or n for n, f in model.model_fields.items() if n not in ("stack", "region")))


def _pydantic_error(err: Mapping[str, Any]) -> ConfigError:
    loc = tuple(err["loc"])
    if err["type"] == "extra_forbidden":
        owner = _model_at(loc[:-1]) if len(loc) > 1 else StackConfig
        allowed = _allowed_keys(owner) if owner else "none"
        return ConfigError(_key(loc), f"unknown key (allowed: {allowed})")
    if err["type"] == "missing":
        return ConfigError(_key(loc), "is required")
    msg = err["msg"]
    if err["type"] == "string_pattern_mismatch":
        msg = f"must match {err['ctx']['pattern']}"
    if err["type"] == "value_error" and ", got " in msg:  # our own validators already say what they got
        return ConfigError(_key(loc), msg.removeprefix("Value error, "))
    return ConfigError(_key(loc), f"{msg}; got {err['input']!r}")


# ---------------------------------------------------------------- parsing


def _decode(value: Any) -> Any:
    """Pulumi passes structured config as JSON text; the stack files hold YAML objects."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def parse_stack_config(stack: str, raw: Mapping[str, Any], catalog: InstanceCatalog | None = None,
                       secret_keys: Iterable[str] = ()) -> StackConfig:
    """Validate a stack's full config map (keys like 'gpufleet:gpuPool', 'aws:region').

    Values under `secret_keys` never appear in an error message; placeholder values (secrets the
    offline preview cannot decrypt) are unknown, so they skip shape checks and stay placeholders.
    """
    secret_keys = frozenset(secret_keys)
    hidden: list[tuple[str, ...]] = []
    cfg = _parse(stack, raw, catalog, secret_keys, hidden)
    for path in hidden:
        cfg = secret_values.put_back(cfg, path)
    cfg._secret_keys = secret_keys
    return cfg


def _secret_safe(exc: ConfigError, raw: Mapping[str, Any], secret_keys: frozenset[str],
                 hidden: list[tuple[str, ...]]) -> str:
    if exc.message == "is required" and exc.key in {f"{PROJECT}:" + ".".join(p) for p in hidden}:
        return ("is a secret that the offline preview cannot decrypt, and its value is needed here; "
                "check it with `pulumi preview`")
    return secret_values.scrub(exc.message, secret_values.plaintexts(raw, secret_keys))


def _parse(stack: str, raw: Mapping[str, Any], catalog: InstanceCatalog | None, secret_keys: frozenset[str],
           hidden: list[tuple[str, ...]]) -> StackConfig:
    catalog = catalog or load_instance_catalog()
    try:
        credentials.check_no_plaintext_credentials(raw, SECRET_PLACEHOLDER)
        namespaces.check_namespaces(raw, PROJECT, raw.get(f"{PROJECT}:cloud"), frozenset(PROVIDER_REGION_KEYS.values()))
        project: dict[str, Any] = {}
        for key, value in raw.items():
            ns, _, name = key.partition(":")
            if ns == PROJECT:
                if name not in PROJECT_KEYS:
                    raise ConfigError(key, f"unknown config key (allowed: {', '.join(PROJECT_KEYS)})")
                project[name] = _decode(value)
        project, withheld = secret_values.withhold(project)
        hidden += withheld
        regions = {k: raw.get(k) for k in PROVIDER_REGION_KEYS.values()}
        region = stack_checks.check_placement(regions, project, catalog)
        releases = project.pop("releases", {})
        if not isinstance(releases, Mapping):
            raise ConfigError(f"{PROJECT}:releases", f"must be a map of release name to settings; got {releases!r}")
        try:
            cfg = StackConfig.model_validate({**project, "stack": stack, "region": region, "releases": {}})
        except ValidationError as exc:
            raise _pydantic_error(exc.errors()[0]) from None
        bounds.check_bounds(cfg, PROJECT)
        bounds.check_release_count(releases, PROJECT)
        stack_checks.check_network(cfg, catalog)
        stack_checks.check_cluster(cfg, catalog)
        stack_checks.check_pool(cfg, catalog, "systemPool", cfg.system_pool, gpu=False)
        stack_checks.check_pool(cfg, catalog, "gpuPool", cfg.gpu_pool, gpu=True)
        # Releases are checked after the pools they must fit on.
        cfg = cfg.model_copy(update={"releases": stack_checks.in_stack_registry(cfg, parse_releases(releases))})
        stack_checks.check_releases(cfg)
        validate_promotion(cfg.promotion, jurisdiction=cfg.jurisdiction, mainland_regions=sorted(
            r for c in clouds.NAMES for r, f in catalog.cloud(c).regions.items() if f.mainland_china))
        if cfg.traffic is not None:
            validate_traffic(cfg.traffic, stack=cfg.stack, jurisdiction=cfg.jurisdiction, cloud=cfg.cloud,
                             releases={n: r.replicas for n, r in cfg.releases.items()})
        check_moderation(cfg)
        from gpufleet.core.observability_sizing import check_observability
        check_observability(cfg, catalog)
        return cfg
    except ConfigError as exc:
        raise StackConfigError(stack, exc.key, _secret_safe(exc, raw, secret_keys, hidden)) from None


# ---------------------------------------------------------------- sources


def project_config_defaults(root: Path | None = None) -> dict[str, Any]:
    """Project-level config from Pulumi.yaml (what the Pulumi engine merges under every stack's own)."""
    return find_project(root).config_defaults


def stack_file(stack: str, root: Path | None = None) -> Path:
    """The stack's file in the project found from `root` (default: the current directory), as pulumi finds it;
    StackConfigError when it resolves outside the project's stack directory (a symlink out)."""
    project = find_project(root)
    return stackfile.check_inside(stack, project.stack_file(stack), project.stack_config_dir)


def list_stacks(root: Path | None = None) -> list[str]:
    return find_project(root).list_stacks()


def read_stack_text(stack: str, root: Path | None = None) -> str:
    """The stack file's text: a valid name, inside stacks/, a regular UTF-8 file (else StackConfigError)."""
    return stackfile.read_stack_bytes(stack, stack_file(stack, root), list_stacks(root))


def raw_stack_config(text: str, root: Path | None = None, *, defaults: Mapping[str, Any] | None = None,
                     stack: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """The stack's config as the engine would see it: project defaults, then the stack file's
    `config:` map, with secure values replaced by a placeholder.

    Returns (config, secret_keys). Secrets cannot be decrypted offline; the
    placeholder keeps them out of every output.
    """
    file_name = f"Pulumi.{stack}.yaml" if stack else "stack file"
    try:  # malformed YAML, a wrong shape or a duplicate key: one line, never a traceback
        own = stackfile.config_map(text, file_name, PROJECT)
    except ConfigError as exc:
        if stack is None:
            raise
        raise StackConfigError(stack, exc.key, exc.message) from None
    defaults = project_config_defaults(root) if defaults is None else defaults
    config = {**defaults, **own}
    return secret_values.mask_config(config)  # nested `secure:` leaves too (`config set --secret --path`)


def load_stack(stack: str, text: str | None = None, root: Path | None = None) -> StackConfig:
    """Validated config of one stack from its file (or from `text`, e.g. a git revision)."""
    project = find_project(root)
    stack = project.stack_name(stack)
    if text is None:
        text = read_stack_text(stack, root)
    return _parse_stack_text(stack, text, project.text)


@lru_cache(maxsize=256)
def _parse_stack_text(stack: str, text: str, project_text: str) -> StackConfig:
    """Parsing is pure in (stack, file text, project file text) and StackConfig is frozen, so
    a stack is validated once per content: the fleet check and the policy runner load every
    stack for every stack previewed, which was quadratic in the number of stacks."""
    raw, secret_keys = raw_stack_config(text, defaults=config_defaults(project_text), stack=stack)
    return parse_stack_config(stack, raw, secret_keys=secret_keys)


def check_fleet(cfg: StackConfig, root: Path | None = None) -> None:
    """Rules across stacks (shared hostnames stay within one jurisdiction), with `cfg` in place of
    its own file. Sibling stacks that do not validate are left to their own preview."""
    members: dict[str, tuple[str, TrafficConfig]] = {}
    for name in list_stacks(root):
        if name == cfg.stack:
            continue
        try:
            other = load_stack(name, root=root)
        except StackConfigError:
            continue
        if other.traffic is not None:
            members[name] = (other.jurisdiction, other.traffic)
    if cfg.traffic is not None:
        members[cfg.stack] = (cfg.jurisdiction, cfg.traffic)
    validate_fleet(members)
