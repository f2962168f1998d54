"""`gpufleet:compliance`: what a stack declares about its public service, for China's rules.

The cluster's own settings live in `gpufleet:cluster`; this key describes the
LLM service as the public sees it. A mainland China service reachable from the
internet needs an ICP filing (MIIT), a generative-AI service filing (CAC) and a
moderation hook for prompts and outputs; the policy pack (`policy/`) enforces
that these exist for `cn` stacks, this model only checks that what is written is
well-formed. Frozen, camelCase keys, unknown keys rejected, like every config model.
"""

from __future__ import annotations

import json
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

COMPLIANCE_KEY = "gpufleet:compliance"

# Provincial abbreviations that prefix an ICP filing number (one per province-level
# filing authority), e.g. 京 Beijing, 浙 Zhejiang, 粤 Guangdong.
ICP_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
# 京ICP备12345678号, 浙ICP备2024012345号-1: 8 digits (older) or 10 (year + serial), optional site suffix.
ICP_FILING_PATTERN = rf"^[{ICP_PROVINCES}]ICP备\d{{8,10}}号(-\d{{1,3}})?$"
# The CAC publishes filing (备案号) and registration (上线编号) ids as ASCII words, digits and
# hyphens with at least one digit, e.g. 'Beijing-Example-202401010001'; only the shape is checked.
GENAI_FILING_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9-]{4,62}[A-Za-z0-9]$"


class _Model(BaseModel):
    """Frozen, camelCase in YAML, unknown keys rejected (typos never fall back to defaults)."""

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)


class Moderation(_Model):
    """The moderation stage in front of the model servers (gpufleet/moderation, docs/moderation.md).

    Declaring it deploys it: a `cn` stack's public route then goes through it; a global
    stack may declare it too (e.g. `provider: noop`, labels only). Credentials never
    appear here: the proxy gets them from RRSA.
    """

    # 'aliyun-green': Alibaba Cloud Content Moderation (内容安全); 'custom': an in-house service;
    # 'noop': screens nothing, only labels (global stacks).
    provider: Literal["aliyun-green", "custom", "noop"]
    endpoint: str | None = Field(default=None, min_length=9, max_length=2048)
    check_prompts: bool = True
    check_outputs: bool = True
    # The proxy's image in the stack's own registry, pinned by tag and digest (short names live in the stack's ACR).
    image: str | None = Field(default=None, max_length=512)
    replicas: int = Field(default=2, ge=1, le=50)
    timeout_ms: int = Field(default=1500, ge=50, le=30000)
    window_chars: int = Field(default=200, ge=20, le=2000)
    first_window_chars: int = Field(default=8, ge=1, le=2000)
    # Output held this long is screened whatever its size (bounds the stall a window adds to ITL).
    max_hold_ms: int = Field(default=400, ge=20, le=10000)
    block_risk_levels: tuple[Literal["high", "medium", "low"], ...] = ("high", "medium")
    # Let requests through when moderation fails: never for prod stacks (checked with the environment).
    fail_open: bool = False
    # Keep the screened text in the decision log (default: only ids, categories and direction).
    log_raw_text: bool = False
    # Explicit AI-generated label (notice text the client shows); None: implicit labels only.
    explicit_label: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("endpoint")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is not None and (not value.startswith("https://") or len(value) <= len("https://")):
            raise ValueError(f"must be an https:// URL; got {value!r}")
        return value

    @model_validator(mode="after")
    def _endpoint_needed(self) -> "Moderation":
        if self.provider != "noop" and self.endpoint is None:
            raise ValueError(f"endpoint is required for provider {self.provider!r} (an https:// URL)")
        if self.first_window_chars > self.window_chars:
            raise ValueError(f"firstWindowChars ({self.first_window_chars}) must not exceed windowChars "
                             f"({self.window_chars})")
        return self


class ComplianceConfig(_Model):
    """`gpufleet:compliance`; every field is optional so that private stacks need not set it."""

    # True when the LLM API is reachable from the public internet (not the Kubernetes API).
    public_endpoint: bool = False
    icp_filing: str | None = Field(default=None, pattern=ICP_FILING_PATTERN)
    genai_filing_id: str | None = Field(default=None, pattern=GENAI_FILING_PATTERN)
    moderation: Moderation | None = None

    @field_validator("genai_filing_id")
    @classmethod
    def _has_serial(cls, value: str | None) -> str | None:
        if value is not None and not any(c.isdigit() for c in value):
            raise ValueError(f"must contain the filing's serial number (digits); got {value!r}")
        return value


def parse_compliance(raw: Mapping[str, Any] | str | None) -> ComplianceConfig:
    """Build the model from a stack file's mapping or from Pulumi's JSON text; None gives the defaults."""
    if raw is None:
        return ComplianceConfig()
    if isinstance(raw, str):
        raw = json.loads(raw)
    return ComplianceConfig.model_validate(raw)
