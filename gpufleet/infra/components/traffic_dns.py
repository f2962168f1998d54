"""The stack's weighted public DNS record: record types and names, and Alibaba Cloud DNS weights.

The alicloud provider's `AlidnsRecord` has no weight field (terraform-provider-alicloud#6332),
so `AlidnsRecordWeight` applies it through the Alidns API with Alibaba Cloud's official SDK
(`alibabacloud-alidns20150109`) and its standard credential chain (`alibabacloud-credentials`):
environment variables, RRSA (OIDC), the `alicloud:profile` / CLI profile, the credentials file,
the ECS RAM role. Credentials are read when the weight is applied and never stored in state.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import Any, Literal

import pulumi
import pulumi.dynamic

from gpufleet.core import clouds

DNS_TTL_SECONDS = clouds.get("aws").dns_ttl_seconds
ALIDNS_TTL_SECONDS = clouds.get("alicloud").dns_ttl_seconds  # the free Alibaba Cloud DNS edition allows no less
ALIDNS_ENDPOINT = "alidns.aliyuncs.com"
ALIDNS_MIN_WEIGHT = 1  # UpdateDNSSLBWeight takes 1-100; weight 0 pauses the record instead
# Older names the alicloud provider still reads; the SDK's chain reads the ALIBABA_CLOUD_* ones.
LEGACY_ENV = ("ALICLOUD_ACCESS_KEY", "ALICLOUD_SECRET_KEY", "ALICLOUD_SECURITY_TOKEN")


def record_type(address: str) -> Literal["A", "AAAA", "CNAME"]:
    """A for an IPv4 address, AAAA for IPv6, CNAME for a load balancer's DNS name."""
    try:
        return "A" if ipaddress.ip_address(address).version == 4 else "AAAA"
    except ValueError:
        return "CNAME"


def relative_name(hostname: str, zone: str) -> str:
    """'assistant.cn' for hostname 'assistant.cn.example.com' in zone 'example.com'."""
    suffix = "." + zone
    if not hostname.endswith(suffix) or hostname == zone:
        raise ValueError(f"{hostname!r} is not a name inside zone {zone!r}")
    return hostname[: -len(suffix)]


def weight_calls(domain: str, sub_domain: str, record_id: str, weight: int) -> list[tuple[str, dict[str, str]]]:
    """Turn weighted round robin on for the name, then set this record's weight (both idempotent)."""
    if not ALIDNS_MIN_WEIGHT <= weight <= 100:
        raise ValueError(f"Alibaba Cloud DNS weights are 1-100 (pause the record for 0); got {weight}")
    return [
        ("SetDNSSLBStatus", {"DomainName": domain, "SubDomain": sub_domain, "Open": "true"}),
        ("UpdateDNSSLBWeight", {"RecordId": record_id, "Weight": str(weight)}),
    ]


def credential_client(profile: str | None = None, env: Mapping[str, str] | None = None) -> Any:
    """The SDK's credential client: a named profile (`alicloud:profile`), the provider's legacy
    ALICLOUD_* variables, or else the default chain (env, RRSA, CLI profile, file, ECS role)."""
    from alibabacloud_credentials.client import Client
    from alibabacloud_credentials.provider import (
        CLIProfileCredentialsProvider, StaticAKCredentialsProvider, StaticSTSCredentialsProvider,
    )

    env = os.environ if env is None else env
    if profile:
        return Client(provider=CLIProfileCredentialsProvider(profile_name=profile))
    key_id, secret, token = (env.get(name) for name in LEGACY_ENV)
    if key_id and secret and not env.get("ALIBABA_CLOUD_ACCESS_KEY_ID"):
        if token:
            return Client(provider=StaticSTSCredentialsProvider(
                access_key_id=key_id, access_key_secret=secret, security_token=token))
        return Client(provider=StaticAKCredentialsProvider(access_key_id=key_id, access_key_secret=secret))
    return Client()


def alidns_client(credential: Any, endpoint: str = ALIDNS_ENDPOINT, protocol: str = "HTTPS") -> Any:
    from alibabacloud_alidns20150109.client import Client
    from alibabacloud_tea_openapi.models import Config

    return Client(Config(credential=credential, endpoint=endpoint, protocol=protocol, read_timeout=30000,
                         connect_timeout=10000))


def _sdk_request(action: str, params: Mapping[str, str]) -> tuple[str, Any]:
    """The SDK method and request model for one planned call."""
    from alibabacloud_alidns20150109 import models

    if action == "SetDNSSLBStatus":
        return "set_dnsslbstatus", models.SetDNSSLBStatusRequest(
            domain_name=params["DomainName"], sub_domain=params["SubDomain"], open=params["Open"] == "true")
    if action == "UpdateDNSSLBWeight":
        return "update_dnsslbweight", models.UpdateDNSSLBWeightRequest(
            record_id=params["RecordId"], weight=int(params["Weight"]))
    raise ValueError(f"no Alidns call {action!r}")


def apply_weight(client: Any, domain: str, sub_domain: str, record_id: str, weight: int) -> None:
    """Both calls through `client` (an Alidns SDK client); one-line RuntimeError on any failure."""
    for action, params in weight_calls(domain, sub_domain, record_id, weight):
        method, request = _sdk_request(action, params)
        try:
            getattr(client, method)(request)
        except Exception as exc:  # the SDK's ClientException/ServerException and transport errors
            code = getattr(exc, "code", None) or type(exc).__name__
            message = str(getattr(exc, "message", None) or exc).splitlines()[0]
            raise RuntimeError(f"Alidns {action} failed ({code}): {message}") from None


class _AlidnsWeightProvider(pulumi.dynamic.ResourceProvider):
    """Applies a record's weight with SetDNSSLBStatus + UpdateDNSSLBWeight (both idempotent)."""

    def _apply(self, props: dict[str, Any]) -> None:
        client = alidns_client(credential_client(props.get("profile")))
        apply_weight(client, props["domain_name"], props["sub_domain"], props["record_id"], int(props["weight"]))

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        self._apply(props)
        return pulumi.dynamic.CreateResult(id_=str(props["record_id"]), outs=props)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        self._apply(news)
        return pulumi.dynamic.UpdateResult(outs=news)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to undo: the weight goes with the record it belongs to."""


class AlidnsRecordWeight(pulumi.dynamic.Resource):
    """The weight of one Alibaba Cloud DNS record (not exposed by alicloud.dns.AlidnsRecord)."""

    weight: pulumi.Output[int]

    def __init__(
        self,
        name: str,
        *,
        domain_name: pulumi.Input[str],
        sub_domain: pulumi.Input[str],
        record_id: pulumi.Input[str],
        weight: pulumi.Input[int],
        profile: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {"domain_name": domain_name, "sub_domain": sub_domain, "record_id": record_id,
                                 "weight": weight}
        if profile:  # the `alicloud:profile` the provider uses; only its name, never a key
            props["profile"] = profile
        super().__init__(_AlidnsWeightProvider(), name, props, opts)
