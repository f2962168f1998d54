"""gpufleet:compliance: well-formed filings and moderation hook, frozen, camelCase, strict."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from gpufleet.core.compliance_config import COMPLIANCE_KEY, ComplianceConfig, Moderation, parse_compliance

FULL = {
    "publicEndpoint": True,
    "icpFiling": "浙ICP备12345678号",
    "genaiFilingId": "Zhejiang-Gpufleet-202401010001",
    "moderation": {"provider": "aliyun-green", "endpoint": "https://green-cip.cn-shanghai.aliyuncs.com",
                   "checkPrompts": True, "checkOutputs": True},
}


def test_key_and_defaults_describe_a_private_stack():
    assert COMPLIANCE_KEY == "gpufleet:compliance"
    assert parse_compliance(None) == ComplianceConfig(public_endpoint=False, icp_filing=None, genai_filing_id=None,
                                                      moderation=None)


def test_full_declaration_from_yaml_mapping_and_from_pulumi_json_text():
    from_mapping = parse_compliance(FULL)
    assert from_mapping.public_endpoint is True
    assert from_mapping.icp_filing == "浙ICP备12345678号"
    assert from_mapping.genai_filing_id == "Zhejiang-Gpufleet-202401010001"
    assert from_mapping.moderation == Moderation(provider="aliyun-green",
                                                 endpoint="https://green-cip.cn-shanghai.aliyuncs.com",
                                                 check_prompts=True, check_outputs=True)
    assert parse_compliance(json.dumps(FULL, ensure_ascii=False)) == from_mapping


@pytest.mark.parametrize("number", ["京ICP备12345678号", "浙ICP备2024012345号-1", "粤ICP备87654321号-12"])
def test_icp_filing_numbers_accepted(number):
    assert parse_compliance({"icpFiling": number}).icp_filing == number


@pytest.mark.parametrize("number", [
    "ICP备12345678号",      # no province
    "京ICP证123456号",      # an operating licence, not a filing
    "京ICP备1234号",        # too few digits
    "沪ICP备12345678",      # no closing 号
    "X ICP备12345678号",
])
def test_malformed_icp_filing_numbers_rejected(number):
    with pytest.raises(ValidationError) as err:
        parse_compliance({"icpFiling": number})
    assert err.value.errors()[0]["loc"] == ("icpFiling",)
    assert err.value.errors()[0]["type"] == "string_pattern_mismatch"


def test_genai_filing_id_needs_a_serial_number():
    with pytest.raises(ValidationError) as err:
        parse_compliance({"genaiFilingId": "Beijing-Example-Model"})
    assert "must contain the filing's serial number (digits); got 'Beijing-Example-Model'" in str(err.value)
    with pytest.raises(ValidationError):
        parse_compliance({"genaiFilingId": "has spaces 2024"})


def test_moderation_endpoint_must_be_https():
    with pytest.raises(ValidationError) as err:
        parse_compliance({"moderation": {"provider": "custom", "endpoint": "http://moderation.internal/v1"}})
    assert "must be an https:// URL; got 'http://moderation.internal/v1'" in str(err.value)


def test_moderation_checks_default_on_and_provider_is_a_known_kind():
    m = parse_compliance({"moderation": {"provider": "custom", "endpoint": "https://mod.example.cn/v1"}}).moderation
    assert (m.check_prompts, m.check_outputs) == (True, True)
    with pytest.raises(ValidationError):
        parse_compliance({"moderation": {"provider": "openai", "endpoint": "https://api.openai.com/v1/moderations"}})


def test_unknown_keys_are_rejected_not_ignored():
    with pytest.raises(ValidationError) as err:
        parse_compliance({"publicEndpoint": True, "icpFilling": "京ICP备12345678号"})
    assert err.value.errors()[0]["type"] == "extra_forbidden"
    assert err.value.errors()[0]["loc"] == ("icpFilling",)


def test_frozen():
    c = parse_compliance(FULL)
    with pytest.raises(ValidationError):
        c.public_endpoint = False  # type: ignore[misc]
