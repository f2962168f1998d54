"""Alibaba Cloud DNS weights through the official SDK: the credential chain, the two calls, errors,
and a real SDK client against a local stand-in of the Alidns API (127.0.0.1 only)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import edited_stack
from gpufleet.infra.components import traffic_dns as dns
from gpufleet.preview.engine import preview_stack


def _type(client) -> str:
    return client.get_credential().type


def test_a_named_profile_uses_the_cli_profile(tmp_path, monkeypatch):
    """`alicloud:profile` names a profile of the Alibaba Cloud CLI's config, as the provider reads it."""
    from alibabacloud_credentials.provider import CLIProfileCredentialsProvider

    config = {"current": "default", "profiles": [
        {"name": "ops", "mode": "AK", "access_key_id": "ops-key", "access_key_secret": "ops-secret"}]}
    (tmp_path / ".aliyun").mkdir()
    (tmp_path / ".aliyun" / "config.json").write_text(json.dumps(config))
    client = dns.credential_client("ops", env={"ALICLOUD_ACCESS_KEY": "other", "ALICLOUD_SECRET_KEY": "other"})
    provider = client.cloud_credential.provider
    assert isinstance(provider, CLIProfileCredentialsProvider)
    provider._profile_file = str(tmp_path / ".aliyun" / "config.json")  # the CLI's file, here in a scratch home
    assert client.get_credential().access_key_id == "ops-key"


def test_the_providers_legacy_variables_still_work():
    ak = dns.credential_client(env={"ALICLOUD_ACCESS_KEY": "k", "ALICLOUD_SECRET_KEY": "s"})
    assert _type(ak) == "static_ak" and ak.get_credential().access_key_id == "k"
    sts = dns.credential_client(env={"ALICLOUD_ACCESS_KEY": "k", "ALICLOUD_SECRET_KEY": "s",
                                     "ALICLOUD_SECURITY_TOKEN": "tok"})
    assert _type(sts) == "static_sts" and sts.get_credential().security_token == "tok"


def test_otherwise_the_sdks_default_chain_reads_the_standard_variables():
    """The SDK reads ALIBABA_CLOUD_* when it is imported, as in the provider's own process."""
    env = {**os.environ, "ALIBABA_CLOUD_ACCESS_KEY_ID": "env-key", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "env-secret",
           "ALICLOUD_ACCESS_KEY": "old", "ALICLOUD_SECRET_KEY": "old", "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true"}
    code = ("from gpufleet.infra.components.traffic_dns import credential_client; "
            "c = credential_client().get_credential(); print(c.access_key_id, c.provider_name)")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["env-key", "default/env"]  # the new names win, as in the provider


class _RecordingClient:
    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.fail = fail

    def set_dnsslbstatus(self, request):
        self.calls.append(("set_dnsslbstatus", request.to_map()))
        if self.fail:
            raise self.fail

    def update_dnsslbweight(self, request):
        self.calls.append(("update_dnsslbweight", request.to_map()))


def test_apply_weight_turns_weighting_on_then_sets_the_weight():
    client = _RecordingClient()
    dns.apply_weight(client, "example.cn", "assistant.example.cn", "42", 40)
    assert client.calls == [
        ("set_dnsslbstatus", {"DomainName": "example.cn", "SubDomain": "assistant.example.cn", "Open": True}),
        ("update_dnsslbweight", {"RecordId": "42", "Weight": 40}),
    ]


def test_an_api_error_is_one_line():
    class ApiError(Exception):
        code = "DomainRecordNotBelongToUser"
        message = "The DNS record does not belong to you.\nRequestId: 1"

    client = _RecordingClient(fail=ApiError())
    with pytest.raises(RuntimeError) as info:
        dns.apply_weight(client, "example.cn", "assistant.example.cn", "42", 40)
    assert str(info.value) == "Alidns SetDNSSLBStatus failed (DomainRecordNotBelongToUser): The DNS record does not belong to you."
    assert len(client.calls) == 1  # the weight is not set on a name without weighting


class _AlidnsStandIn(BaseHTTPRequestHandler):
    requests: list[dict[str, str]] = []

    def _handle(self) -> None:
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            params.update(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        params["_method"] = self.command
        params["_authorization"] = self.headers.get("Authorization", "")
        params.update({k.lower(): v for k, v in self.headers.items() if k.lower().startswith("x-acs-")})
        type(self).requests.append(params)
        body = json.dumps({"RequestId": f"req-{len(type(self).requests)}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _handle

    def log_message(self, *args) -> None:
        return None


def test_the_real_sdk_client_calls_the_api_with_signed_requests():
    _AlidnsStandIn.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AlidnsStandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        credential = dns.credential_client(env={"ALICLOUD_ACCESS_KEY": "test-key", "ALICLOUD_SECRET_KEY": "test-secret",
                                                "ALICLOUD_SECURITY_TOKEN": "test-token"})
        client = dns.alidns_client(credential, endpoint=f"127.0.0.1:{server.server_address[1]}", protocol="HTTP")
        dns.apply_weight(client, "example.cn", "assistant.example.cn", "42", 40)
    finally:
        server.shutdown()
        server.server_close()
    first, second = _AlidnsStandIn.requests
    assert (first["x-acs-action"], first["DomainName"], first["SubDomain"], first["Open"].lower()) == (
        "SetDNSSLBStatus", "example.cn", "assistant.example.cn", "true")
    assert (second["x-acs-action"], second["RecordId"], second["Weight"]) == ("UpdateDNSSLBWeight", "42", "40")
    for request in (first, second):
        assert request["x-acs-version"] == "2015-01-09"
        # signed with Alibaba Cloud's V3 scheme by the SDK; the STS token travels, the secret never does
        assert request["_authorization"].startswith("ACS3-HMAC-SHA256 Credential=test-key,")
        assert request["x-acs-security-token"] == "test-token"
        assert "test-secret" not in json.dumps(request)


def test_alicloud_profile_reaches_the_weight_resource_by_name_only():
    plain = preview_stack("prod-cn-beijing")
    with_profile = preview_stack("prod-cn-beijing", text=edited_stack("prod-cn-beijing", {"alicloud:profile": "ops"}))
    weight = lambda p: [r.inputs for r in p.resources if r.type == "pulumi-python:dynamic:Resource"]  # noqa: E731
    assert plain.ok and with_profile.ok, (plain.error, with_profile.error)
    assert len(weight(plain)) == 1 and "profile" not in weight(plain)[0]
    assert weight(with_profile)[0]["profile"] == "ops"
