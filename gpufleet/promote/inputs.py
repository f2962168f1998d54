"""What a promotion reads from the stack's config, through one switchable function.

`load_inputs` uses `gpufleet.core.config.load_stack` once StackConfig has the
`traffic`, `slo` and `releases` fields (then every rule of the config module
applies). Until then it reads the same stack file and parses just those keys
with their own models, so the promotion never reads config any other way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gpufleet.core import clouds
from gpufleet.core.promotion_config import PromotionConfig, parse_promotion
from gpufleet.core.slo import SloSpec
from gpufleet.core.errors import ConfigError, StackConfigError
from gpufleet.core.traffic_config import TrafficConfig, parse_traffic, validate_traffic

NEEDED_FIELDS = ("traffic", "slo", "releases")


class InputsError(ValueError):
    """The stack's config cannot drive a promotion; str() is one line."""


@dataclass(frozen=True)
class PromotionInputs:
    stack: str
    cloud: str
    jurisdiction: str
    traffic: TrafficConfig
    slo: SloSpec
    replicas: dict[str, int]  # release -> replicas
    served_models: dict[str, str]  # release -> the model name clients send
    promotion: PromotionConfig = PromotionConfig()  # how each step is analysed on live traffic


def load_inputs(stack: str, root: Path | None = None) -> PromotionInputs:
    from gpufleet.core.config import StackConfig, load_stack

    try:
        if all(name in StackConfig.model_fields for name in NEEDED_FIELDS):
            cfg = load_stack(stack, root=root)
            return _inputs(stack, cfg.cloud, cfg.jurisdiction, getattr(cfg, "traffic"), getattr(cfg, "slo"),
                           getattr(cfg, "releases"), getattr(cfg, "promotion", None))
        return _from_stack_file(stack, root)
    except StackConfigError as exc:
        raise InputsError(str(exc)) from None
    except ConfigError as exc:
        raise InputsError(f"stack '{stack}': {exc}") from None


def _inputs(stack: str, cloud: str, jurisdiction: str, traffic: TrafficConfig | None, slo: SloSpec | None,
            releases: Mapping[str, Any] | None, promotion: PromotionConfig | None = None) -> PromotionInputs:
    if traffic is None:
        raise InputsError(f"stack '{stack}' has no gpufleet:traffic block (see docs/promote.md)")
    if slo is None:
        raise InputsError(f"stack '{stack}' has no gpufleet:slo block; the gate needs the stack's SLO")
    if not releases:
        raise InputsError(f"stack '{stack}' has no gpufleet:releases; there is nothing to promote")
    replicas = {name: r.replicas for name, r in releases.items()}
    served = {name: (r.served_model_name or r.model) for name, r in releases.items()}
    validate_traffic(traffic, stack=stack, jurisdiction=jurisdiction, cloud=cloud, releases=replicas)
    return PromotionInputs(stack, cloud, jurisdiction, traffic, slo, replicas, served, promotion or PromotionConfig())


def _from_stack_file(stack: str, root: Path | None) -> PromotionInputs:
    from gpufleet.core.config import PROJECT, list_stacks, raw_stack_config, stack_file
    from gpufleet.core.release_config import parse_releases

    path = stack_file(stack, root)
    if not path.exists():
        raise InputsError(f"stack '{stack}': no stack file {path.name} (allowed: {', '.join(list_stacks(root))})")
    raw, _ = raw_stack_config(path.read_text(encoding="utf-8"), root)
    traffic = parse_traffic(raw[f"{PROJECT}:traffic"]) if f"{PROJECT}:traffic" in raw else None
    slo = None
    if f"{PROJECT}:slo" in raw:
        try:
            slo = SloSpec.model_validate(raw[f"{PROJECT}:slo"])
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            raise InputsError(f"stack '{stack}': {PROJECT}:slo{'.' + where if where else ''}: {message}") from None
    releases = parse_releases(raw.get(f"{PROJECT}:releases") or {})
    try:
        promotion = parse_promotion(raw.get(f"{PROJECT}:promotion"))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = "".join(f".{p}" for p in err["loc"])
        raise InputsError(f"stack '{stack}': {PROJECT}:promotion{where}: {err['msg']}; got {err['input']!r}") from None
    cloud, jurisdiction = raw.get(f"{PROJECT}:cloud"), raw.get(f"{PROJECT}:jurisdiction")
    if cloud not in clouds.NAMES or jurisdiction not in ("cn", "global"):
        raise InputsError(f"stack '{stack}': gpufleet:cloud/jurisdiction are not valid "
                          f"(got {cloud!r}/{jurisdiction!r}); run `gpufleet preview --stack {stack}`")
    return _inputs(stack, cloud, jurisdiction, traffic, slo, releases, promotion)
