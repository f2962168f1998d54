"""What a moderation provider answers, and the providers that need no cloud SDK.

A provider screens one piece of text in one direction (`prompt` or `output`)
and answers a `Verdict`, or raises `ModerationError` when it could not decide
(the proxy then refuses: fail closed). Providers: `aliyun-green` (green.py,
Alibaba Cloud Content Moderation), `custom` (an in-country HTTP service speaking
a two-field JSON contract) and `noop` (labels only, for global stacks).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal, Protocol

import aiohttp

Direction = Literal["prompt", "output"]


class ModerationError(RuntimeError):
    """The provider gave no decision (error, bad answer); `kind` is `error` or `timeout`."""

    def __init__(self, message: str, kind: Literal["error", "timeout"] = "error") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Verdict:
    """One decision: blocked or not, with the provider's categories (labels) and risk level."""

    blocked: bool
    categories: tuple[str, ...] = ()
    risk_level: str = "none"
    provider_request_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


ALLOW = Verdict(False)


class Provider(Protocol):
    name: str

    async def screen(self, text: str, direction: Direction, *, request_id: str) -> Verdict: ...

    async def close(self) -> None: ...


class NoopProvider:
    """Screens nothing: for global stacks that only want the AI-generated labels."""

    name = "noop"

    async def screen(self, text: str, direction: Direction, *, request_id: str) -> Verdict:
        return ALLOW

    async def close(self) -> None:
        return None


class CustomProvider:
    """A self-hosted, in-country moderation service.

    Contract: `POST <endpoint>` with `{"text", "direction", "requestId"}`; answer
    200 with `{"blocked": bool, "categories": [str], "riskLevel": str}`. Anything
    else is a `ModerationError`.
    """

    name = "custom"

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._session: aiohttp.ClientSession | None = None

    async def screen(self, text: str, direction: Direction, *, request_id: str) -> Verdict:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        payload = {"text": text, "direction": direction, "requestId": request_id}
        try:
            async with self._session.post(self.endpoint, json=payload) as resp:
                if resp.status != 200:
                    raise ModerationError(f"custom moderation answered HTTP {resp.status}")
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, ValueError) as exc:
            raise ModerationError(f"custom moderation failed: {exc}") from None
        if not isinstance(body, dict) or not isinstance(body.get("blocked"), bool):
            raise ModerationError("custom moderation answer has no boolean 'blocked'")
        categories = tuple(str(c) for c in body.get("categories") or ())
        return Verdict(body["blocked"], categories, str(body.get("riskLevel", "none")))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


async def screen_with_timeout(provider: Provider, text: str, direction: Direction, *,
                              request_id: str, timeout_s: float) -> Verdict:
    """The provider's verdict within `timeout_s`, else `ModerationError(kind='timeout')`."""
    try:
        return await asyncio.wait_for(provider.screen(text, direction, request_id=request_id), timeout_s)
    except asyncio.TimeoutError:
        raise ModerationError(f"{provider.name} gave no verdict within {timeout_s * 1000:.0f} ms",
                              "timeout") from None
    except ModerationError:
        raise
    except Exception as exc:  # noqa: BLE001 - any provider failure is a refusal, never a pass
        raise ModerationError(f"{provider.name} failed: {type(exc).__name__}: {exc}") from None
