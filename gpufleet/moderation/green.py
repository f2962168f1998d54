"""Alibaba Cloud Content Moderation (内容安全, "Green") through its official SDK.

`TextModerationPlus` (API version 2022-03-02) with the services made for LLM
traffic: `llm_query_moderation` for prompts and `llm_response_moderation` for
outputs. The answer's `Data.RiskLevel` (high, medium, low, none) decides; the
levels that block are configured (default high and medium). `Data.Result[].Label`
gives the categories that are logged.

Credentials come only from the default credential chain of
`alibabacloud-credentials`: in the cluster that is RRSA (the pod identity webhook
injects ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN and
ALIBABA_CLOUD_OIDC_TOKEN_FILE); nothing in gpufleet's config can carry a key.
"""

from __future__ import annotations

import asyncio
import json
import re
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterable
from urllib.parse import urlsplit

from alibabacloud_credentials.client import Client as CredentialClient
from alibabacloud_green20220302 import models as green_models
from alibabacloud_green20220302.client import Client as GreenClient
from alibabacloud_tea_openapi import utils_models as openapi_models
from darabonba.runtime import RuntimeOptions

from gpufleet.moderation.providers import Direction, ModerationError, Verdict
from gpufleet.moderation.settings import DEFAULT_BLOCK_LEVELS, RISK_LEVELS

SERVICES: dict[str, str] = {"prompt": "llm_query_moderation", "output": "llm_response_moderation"}
WORKERS = 16  # checks in flight per proxy process (threads: more only fight the event loop for the GIL)
_REGION = re.compile(r"^green-cip(?:-vpc)?\.([a-z]+-[a-z0-9-]+)\.aliyuncs\.com$")


def region_of(endpoint: str) -> str | None:
    """`cn-hangzhou` for https://green-cip.cn-hangzhou.aliyuncs.com (or its -vpc twin)."""
    match = _REGION.match(urlsplit(endpoint).hostname or "")
    return match.group(1) if match else None


def client_config(endpoint: str, timeout_ms: int, credential: object | None = None) -> openapi_models.Config:
    """SDK config for an endpoint URL; its scheme picks the protocol (http only for a local stand-in)."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError(f"moderation endpoint must be an http(s) URL; got {endpoint!r}")
    return openapi_models.Config(
        credential=credential if credential is not None else CredentialClient(),
        endpoint=parts.netloc,
        protocol=parts.scheme,
        region_id=region_of(endpoint) or "cn-shanghai",
        connect_timeout=timeout_ms,
        read_timeout=timeout_ms,
    )


def verdict_of(body: object, block_levels: Iterable[str]) -> Verdict:
    """Read a `TextModerationPlusResponseBody`; a non-200 code or no risk level is an error."""
    code = getattr(body, "code", None)
    if code != 200:
        raise ModerationError(f"TextModerationPlus answered code {code}: {getattr(body, 'message', '')}")
    data = getattr(body, "data", None)
    level = getattr(data, "risk_level", None)
    if not isinstance(level, str) or level.lower() not in RISK_LEVELS:
        raise ModerationError(f"TextModerationPlus answer has no valid RiskLevel (got {level!r})")
    level = level.lower()
    labels = tuple(r.label for r in (getattr(data, "result", None) or ()) if r and r.label and r.label != "nonLabel")
    return Verdict(level in set(block_levels), labels, level, getattr(body, "request_id", None))


class GreenProvider:
    """One SDK client for the process; each screen is one `TextModerationPlus` call."""

    name = "aliyun-green"

    def __init__(self, endpoint: str, *, timeout_ms: int = 1500,
                 block_levels: Iterable[str] = DEFAULT_BLOCK_LEVELS, credential: object | None = None) -> None:
        self.block_levels = tuple(block_levels)
        self.client = GreenClient(client_config(endpoint, timeout_ms, credential))
        self.runtime = RuntimeOptions(read_timeout=timeout_ms, connect_timeout=timeout_ms, autoretry=False,
                                      max_idle_conns=WORKERS)
        self.executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="green")

    async def screen(self, text: str, direction: Direction, *, request_id: str) -> Verdict:
        params = {"content": text, "sessionId": request_id}
        request = green_models.TextModerationPlusRequest(
            service=SERVICES[direction], service_parameters=json.dumps(params, ensure_ascii=False))
        # The SDK's blocking call keeps a pooled keep-alive session (one TLS handshake per connection);
        # its async call opens a new session, TLS context and connection for every request.
        response = await asyncio.get_running_loop().run_in_executor(
            self.executor, self.client.text_moderation_plus_with_options, request, self.runtime)
        return verdict_of(response.body, self.block_levels)

    async def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
