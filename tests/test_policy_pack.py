"""The CrossGuard pack as Pulumi loads it (without the engine): metadata, config schemas, adapters, settings."""

from __future__ import annotations

import json
import re
import runpy

import jsonschema
import pytest
import yaml
from pulumi.runtime.config import set_all_config
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from conftest import ROOT
from gpufleet.policies import POLICIES, UNKNOWN
from gpufleet.policies.pack import plain, resource_context, stack_config_context
from gpufleet.policies.settings import PackConfigError, check_pack_config, effective_level, policy_settings

PACK_DIR = ROOT / "policy"
BY_ID = {p.id: p for p in POLICIES}


@pytest.fixture(scope="module")
def pack_policies():
    """`policy/__main__.py` run the way Pulumi runs it, except under another name: no gRPC server starts."""
    namespace = runpy.run_path(str(PACK_DIR / "__main__.py"), run_name="gpufleet_policy_pack_under_test")
    return namespace["POLICIES"]


def test_every_policy_has_an_id_a_sourced_description_and_a_valid_level(pack_policies):
    assert [p.name for p in pack_policies] == [p.id for p in POLICIES]
    assert len({p.name for p in pack_policies}) == len(pack_policies) >= 30
    for policy in pack_policies:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", policy.name) and policy.name != "all"
        why, _, source = policy.description.partition(" Source: ")
        assert len(why) > 40 and source.endswith(".") and len(source) > 10, policy.name
        assert policy.enforcement_level in (EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY), policy.name


def test_policy_kinds_follow_their_scope(pack_policies):
    for policy, spec in zip(pack_policies, POLICIES):
        expected = ResourceValidationPolicy if spec.scope == "resource" else StackValidationPolicy
        assert isinstance(policy, expected), policy.name
        assert policy.enforcement_level == EnforcementLevel(spec.level)


def test_both_levels_are_used_and_residency_is_mandatory():
    levels = {p.id: p.level for p in POLICIES}
    assert set(levels.values()) == {"mandatory", "advisory"}
    for pid in ("cn-alicloud-only", "cn-mainland-locations", "cn-no-cross-border-transfer", "global-no-china-locations",
                "cn-images-from-acr", "cn-weights-in-region", "cn-log-retention", "cn-public-endpoint-filings"):
        assert levels[pid] == "mandatory"


def test_config_schemas_are_json_schema_with_defaults(pack_policies):
    configurable = {p.name: p.config_schema for p in pack_policies if p.config_schema is not None}
    assert set(configurable) == {"cn-alicloud-only", "cn-images-from-acr", "cn-log-retention", "k8s-version-support-ending",
                                 "cloud-cost-tags", "network-default-deny", "no-secrets-in-env", "workload-cost-labels",
                                 "k8s-api-not-public"}
    for name, schema in configurable.items():
        assert isinstance(schema, PolicyConfigSchema)
        object_schema = {"type": "object", "properties": schema.properties, "additionalProperties": False}
        jsonschema.Draft7Validator.check_schema(object_schema)
        defaults = {k: v["default"] for k, v in schema.properties.items()}
        jsonschema.validate(defaults, object_schema)


def test_cn_log_retention_minimum_cannot_be_configured_below_six_months():
    schema = {"type": "object", "properties": BY_ID["cn-log-retention"].config}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"minDays": 90}, schema)


def test_pulumi_policy_yaml_runs_python_in_the_project_virtualenv():
    spec = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert spec["runtime"]["name"] == "python"
    assert (PACK_DIR / spec["runtime"]["options"]["virtualenv"]).resolve() == ROOT / ".venv"
    assert re.fullmatch(r"\d+\.\d+\.\d+", str(spec["version"]))
    assert "-e .." in (PACK_DIR / "requirements.txt").read_text().splitlines()


def test_example_pack_config_is_valid_for_the_pack():
    config = json.loads((PACK_DIR / "pack-config.example.json").read_text())
    check_pack_config(config, BY_ID)
    for pid, entry in config.items():
        if isinstance(entry, dict):
            props = {k: v for k, v in entry.items() if k != "enforcementLevel"}
            jsonschema.validate(props, {"type": "object", "properties": BY_ID[pid].config, "additionalProperties": False})


# --------------------------------------------------------------------------- --policy-pack-config semantics


def test_levels_policy_entry_beats_all_beats_default():
    spec = BY_ID["container-probes"]  # advisory by default
    assert effective_level(spec, {}) == "advisory"
    assert effective_level(spec, {"all": "mandatory"}) == "mandatory"
    assert effective_level(spec, {"all": {"enforcementLevel": "mandatory"}, "container-probes": "disabled"}) == "disabled"
    assert effective_level(spec, {"container-probes": {"enforcementLevel": "remediate"}}) == "mandatory"


def test_settings_merge_defaults_with_the_policy_entry():
    spec = BY_ID["cn-log-retention"]
    assert policy_settings(spec, {}) == {"minDays": 184}
    assert policy_settings(spec, {"cn-log-retention": {"enforcementLevel": "advisory", "minDays": 365}}) == {"minDays": 365}


@pytest.mark.parametrize("config,message", [
    ({"no-such-policy": "mandatory"}, "no-such-policy: no such policy (allowed: all, "),
    ({"all": "strict"}, "all: enforcementLevel 'strict' is not one of advisory, mandatory, remediate, disabled"),
    ({"cn-log-retention": {"minDayz": 365}}, "cn-log-retention: unknown setting minDayz (allowed: enforcementLevel, minDays)"),
    ({"kms-rotation": 3}, "kms-rotation: must be an enforcement level or an object"),
])
def test_bad_pack_configs_are_refused(config, message):
    with pytest.raises(PackConfigError) as err:
        check_pack_config(config, BY_ID)
    assert str(err.value).startswith(message)


# --------------------------------------------------------------------------- the Pulumi adapters


def _opts() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def test_plain_unwraps_analyzer_proxies_and_marks_unknowns():
    proxied = unknown_checking_proxy({"a": {"b": [1, UNKNOWN_STRING_VALUE]}, "c": UNKNOWN_STRING_VALUE, "d": "x"})
    assert plain(proxied) == {"a": {"b": [1, UNKNOWN]}, "c": UNKNOWN, "d": "x"}


def test_resource_policy_reports_through_pulumi_with_its_config(pack_policies):
    policy = next(p for p in pack_policies if p.name == "cn-log-retention")
    props = unknown_checking_proxy({"logstoreName": "audit", "retentionPeriod": 365, "projectName": UNKNOWN_STRING_VALUE,
                                    "tags": {"jurisdiction": "cn"}})
    args = ResourceValidationArgs("alicloud:log/store:Store", props, "urn:pulumi:s::p::alicloud:log/store:Store::audit",
                                  "audit", _opts(), None, {"minDays": 400})
    reported: list[tuple[str, str | None]] = []
    policy.validate(args, lambda message, urn=None: reported.append((message, urn)))
    assert reported == [("log store 'audit' keeps logs 365 days; cn stacks keep them at least 400 days", None)]


def test_resource_context_prefers_stack_config_then_tags_and_provider_region():
    assert stack_config_context() is None  # no Pulumi config in a test process
    ctx = resource_context({"tags": {"jurisdiction": "cn", "stack": "prod-cn-hangzhou"}}, {"region": "cn-hongkong"})
    assert (ctx.jurisdiction, ctx.stack, ctx.region) == ("cn", "prod-cn-hangzhou", "cn-hongkong")
    set_all_config({"gpufleet:jurisdiction": "cn", "gpufleet:cloud": "alicloud", "alicloud:region": "cn-beijing",
                    "gpufleet:compliance": json.dumps({"publicEndpoint": True})}, [])
    try:
        ctx = resource_context({"tags": {"jurisdiction": "global"}}, None)
        assert (ctx.jurisdiction, ctx.cloud, ctx.region, ctx.compliance.public_endpoint) == ("cn", "alicloud", "cn-beijing", True)
        set_all_config({"gpufleet:jurisdiction": "cn", "gpufleet:compliance": json.dumps({"icpFiling": "bad"})}, [])
        assert stack_config_context().compliance_error.startswith("1 validation error for ComplianceConfig")
    finally:
        set_all_config({}, [])


def test_resource_policy_judges_by_the_provider_region(pack_policies):
    policy = next(p for p in pack_policies if p.name == "cn-mainland-locations")
    provider = PolicyProviderResource("pulumi:providers:alicloud", unknown_checking_proxy({"region": "cn-hongkong"}),
                                      "urn:provider", "default")
    props = unknown_checking_proxy({"zoneId": "cn-hongkong-b", "tags": {"jurisdiction": "cn"}})
    args = ResourceValidationArgs("alicloud:vpc/switch:Switch", props, "urn:switch", "sw", _opts(), provider, None)
    reported: list[str] = []
    policy.validate(args, lambda message, urn=None: reported.append(message))
    assert reported == ["is created in region 'cn-hongkong', which is not in mainland China",
                        "zoneId = 'cn-hongkong-b' is in cn-hongkong, outside mainland China"]


def test_stack_policy_attributes_violations_to_resource_urns(pack_policies):
    policy = next(p for p in pack_policies if p.name == "network-default-deny")
    ns = PolicyResource("kubernetes:core/v1:Namespace",
                        unknown_checking_proxy({"kind": "Namespace", "metadata": {"name": "llm-blue"}}),
                        "urn:ns", "llm-blue", _opts(), None, None, [], {})
    reported: list[tuple[str, str | None]] = []
    policy.validate(StackValidationArgs([ns], None), lambda message, urn=None: reported.append((message, urn)))
    assert reported == [("namespace 'llm-blue' has no default-deny NetworkPolicy (podSelector {}, policyTypes "
                         "[Ingress, Egress], no rules)", "urn:ns")]


def test_docs_table_lists_every_policy_with_its_level_and_every_setting():
    docs = (ROOT / "docs" / "policies.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([a-z0-9-]+)` \| (mandatory|advisory) \|", docs, flags=re.M))
    assert rows == {p.id: p.level for p in POLICIES}
    for spec in POLICIES:  # the row says what the registry says
        cells = [spec.what, spec.why, spec.source]
        assert f"| `{spec.id}` | {spec.level} | " + " | ".join(c.replace("|", "\\|") for c in cells) + " |" in docs
    for spec in POLICIES:
        for setting in spec.config:
            assert f"| `{spec.id}` | `{setting}`" in docs, (spec.id, setting)
    assert "--policy-pack-config" in docs and "pulumi preview -s prod-cn-hangzhou --policy-pack policy" in docs
