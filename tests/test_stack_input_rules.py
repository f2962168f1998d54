"""The rules behind the bad-input corpus, one by one, with the inputs they must still accept."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT, edited_stack, stack_text
from gpufleet.core import cidrs, credentials, namespaces, stackfile
from gpufleet.core.config import SECRET_PLACEHOLDER, load_stack
from gpufleet.core.errors import ConfigError, StackConfigError
from gpufleet.policies import cloud_hardening as cloud
from gpufleet.policies.credential_rules import no_plaintext_keys
from gpufleet.policies.model import PolicyContext, Resource, StackContext
from gpufleet.preview.engine import preview_stack

EKS = "aws:eks/cluster:Cluster"


# ---------------------------------------------------------------- stack names and files


def test_a_stack_file_must_resolve_inside_the_stack_directory(tmp_path: Path) -> None:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (tmp_path / "outside.yaml").write_text("config: {}\n")
    (stacks / "Pulumi.linked.yaml").symlink_to(tmp_path / "outside.yaml")
    (stacks / "Pulumi.plain.yaml").write_text("config: {}\n")
    assert stackfile.check_inside("plain", stacks / "Pulumi.plain.yaml", stacks) == stacks / "Pulumi.plain.yaml"
    with pytest.raises(StackConfigError, match=r"^stack 'linked': stack: Pulumi.linked.yaml resolves outside the "
                                               r"stacks/ directory"):
        stackfile.check_inside("linked", stacks / "Pulumi.linked.yaml", stacks)


def test_a_qualified_name_loads_the_stack_file_of_its_stack() -> None:
    assert load_stack("acme/gpufleet/prod-us-east-1").stack == "prod-us-east-1"
    preview = preview_stack("acme/gpufleet/prod-us-east-1")
    assert preview.ok and preview.stack == "prod-us-east-1" and preview.resources


def test_yaml_errors_carry_line_and_column() -> None:
    with pytest.raises(ConfigError) as info:
        stackfile.load_yaml("config:\n  a: [1, 2\n", "f.yaml")
    assert info.value.key == "f.yaml" and info.value.message.startswith("line 3, column 1: is not valid YAML: ")


def test_duplicate_keys_anywhere_are_refused_and_merge_keys_are_not_duplicates() -> None:
    with pytest.raises(ConfigError, match=r"^x.y.0.z: duplicate key on lines 1 and 1 "):
        stackfile.load_yaml("x: {y: [{z: 1, z: 2}]}", "f.yaml")
    assert stackfile.load_yaml("base: &b {a: 1}\nx:\n  <<: *b\n  c: 2\n", "f.yaml")["x"] == {"a": 1, "c": 2}


def test_bad_utf8_position() -> None:
    with pytest.raises(ConfigError, match=r"^f.yaml: line 2, column 3: byte 0xff is not UTF-8"):
        stackfile.decode_utf8(b"ok\nab\xffc", "f.yaml")


def test_bare_keys_are_the_projects() -> None:
    assert stackfile.config_map("config:\n  team: a\n  aws:region: b\n", "f", "gpufleet") == {
        "gpufleet:team": "a", "aws:region": "b"}


# ---------------------------------------------------------------- credentials


def test_secure_credentials_are_accepted() -> None:
    text = stack_text("prod-us-east-1").replace(
        "config:\n", "config:\n  aws:accessKey:\n    secure: AAABAKx1\n  aws:secretKey:\n    secure: AAABAKx2\n", 1)
    assert load_stack("prod-us-east-1", text).cloud == "aws"


@pytest.mark.parametrize("key, expected", [
    ("aws:secretKey", True), ("alicloud:securityToken", True), ("aws:sessionToken", True),
    ("kubernetes:clientKey", True), ("aws:region", False), ("aws:profile", False), ("gpufleet:team", False)])
def test_credential_keys(key: str, expected: bool) -> None:
    assert credentials.is_credential_key(key) is expected


def test_credential_values() -> None:
    config = {"aws:defaultTags": {"tags": {"owner": "AKIAIOSFODNN7EXAMPLE"}},
              "gpufleet:x": ["-----BEGIN RSA PRIVATE KEY-----\nMII..."], "gpufleet:y": "LTAI5tAbCdEfGhIjKlMn",
              "gpufleet:fine": "AKIA-not-a-key", "gpufleet:cert": "-----BEGIN CERTIFICATE-----"}
    found = sorted(p for k, v in config.items() for p, _ in credentials.credential_values(v, k))
    assert found == ["aws:defaultTags.tags.owner", "gpufleet:x.0", "gpufleet:y"]


def test_no_plaintext_keys_policy_scans_config_and_resource_inputs() -> None:
    ctx = PolicyContext(StackContext("s", "aws", "us-east-1", "global",
                                     config={"aws:defaultTags": {"tags": {"k": "AKIAIOSFODNN7EXAMPLE"}},
                                             "aws:secretKey": SECRET_PLACEHOLDER}))
    pod = Resource("kubernetes:apps/v1:Deployment", "llm", {"spec": {"env": [{"value": "LTAI5tAbCdEfGhIjKlMn"}]}})
    found = no_plaintext_keys([pod, Resource("aws:s3/bucket:Bucket", "b", {"bucket": "x"})], ctx)
    assert [(v.message.split(";")[0], v.resource) for v in found] == [
        ("config aws:defaultTags.tags.k holds an AWS access key id in plaintext", None),
        ("input spec.env.0.value holds an Alibaba Cloud AccessKey id in plaintext", pod)]


def test_shipped_stacks_have_no_plaintext_keys(all_previews) -> None:
    from gpufleet.policy_runner import run_policies_for_previews

    results = run_policies_for_previews(list(all_previews.values()))
    assert all(r.policy != "no-plaintext-keys" for rs in results.values() for r in rs)


def test_a_key_in_a_tag_fails_the_preview_with_the_policy(tmp_path: Path, capsys) -> None:
    from gpufleet.cli import main

    (tmp_path / "stacks").mkdir()
    (tmp_path / "Pulumi.yaml").write_bytes((ROOT / "Pulumi.yaml").read_bytes())
    text = edited_stack("prod-us-east-1", {"aws:defaultTags": {"tags": {"owner": "AKIAIOSFODNN7EXAMPLE"}}})
    (tmp_path / "stacks" / "Pulumi.prod-us-east-1.yaml").write_text(text, encoding="utf-8")
    assert main(["preview", "--stack", "prod-us-east-1", "--root", str(tmp_path), "--json"]) == 1
    assert "no-plaintext-keys" in capsys.readouterr().out


# ---------------------------------------------------------------- namespaces


def test_namespaces_allowed_per_cloud() -> None:
    namespaces.check_namespaces({"kubernetes:enableServerSideApply": "true", "pulumi:tags": {}}, "gpufleet", "aws")
    with pytest.raises(ConfigError, match=r"did you mean 'kubernetes:x'\?$"):
        namespaces.check_namespaces({"kubernetess:x": 1}, "gpufleet", "aws")
    with pytest.raises(ConfigError, match=r"unknown config namespace 'gcp' \(allowed: alicloud, gpufleet, kubernetes, "
                                          r"pulumi\)$"):
        namespaces.check_namespaces({"gcp:project": "p"}, "gpufleet", "alicloud")


# ---------------------------------------------------------------- CIDRs


@pytest.mark.parametrize("allow_list, refused", [
    (["203.0.113.0/24", "198.51.100.7/32"], None),
    (["11.0.0.0/8"], None),
    (["10.0.0.0/8", "172.16.0.0/12"], None),               # private space is not public exposure
    (["0.0.0.0/0"], 0),
    (["203.0.113.0/24", "0.0.0.0/1", "128.0.0.0/1"], 1),
    (["10.0.0.0/7"], 0),                                    # half of it (11/8) is public
    (["11.0.0.0/8", "12.0.0.0/8", "13.0.0.0/8"], "all"),    # each fine, together 1.4%
])
def test_public_exposure_by_address_space(allow_list: list[str], refused) -> None:
    problem = cidrs.exposure_problem(allow_list)
    if refused is None:
        assert problem is None
    else:
        assert problem is not None and problem[0] == (None if refused == "all" else refused)


def test_overlapping_ranges_count_once() -> None:
    assert cidrs.public_addresses([cidrs.ipaddress.ip_network(n) for n in ("11.0.0.0/8", "11.0.0.0/9")]) == 2**24


def test_api_policy_judges_by_address_space_with_a_configurable_share() -> None:
    props = {"vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/1", "128.0.0.0/1"]}}
    ctx = PolicyContext(StackContext("s", "aws", "us-east-1", "global"), {"maxPublicShare": 0.01})
    assert cloud.k8s_api_not_public(EKS, props, ctx) == [
        "vpcConfig.publicAccessCidrs: 0.0.0.0/1 opens the API to a public range broader than a /8 "
        "(2,147,483,648 addresses; allowed: /8 or narrower)"]
    three = {"vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["11.0.0.0/8", "12.0.0.0/8"]}}
    assert cloud.k8s_api_not_public(EKS, three, ctx) == []
    strict = PolicyContext(ctx.stack, {"maxPublicShare": 0.001})
    assert cloud.k8s_api_not_public(EKS, three, strict)[0].startswith(
        "vpcConfig.publicAccessCidrs: together open the API to 33,554,432 public addresses")


# ---------------------------------------------------------------- the fleet check reads the previewed project


def test_fleet_check_reads_the_previewed_projects_stacks(tmp_path: Path) -> None:
    (tmp_path / "stacks").mkdir()
    (tmp_path / "Pulumi.yaml").write_bytes((ROOT / "Pulumi.yaml").read_bytes())
    shared = {"gpufleet:traffic.hostname": "chat.corp.example.net", "gpufleet:traffic.dnsZone": "corp.example.net"}
    for stack in ("prod-cn-hangzhou", "prod-us-east-1"):
        (tmp_path / "stacks" / f"Pulumi.{stack}.yaml").write_text(edited_stack(stack, shared), encoding="utf-8")
    preview = preview_stack("prod-us-east-1", root=tmp_path)
    assert not preview.ok and preview.resources == []
    assert "'chat.corp.example.net' is shared by China stacks (prod-cn-hangzhou)" in preview.error
    # The installed checkout's own stacks do not share that hostname: the same file alone previews.
    alone = tmp_path / "alone"
    (alone / "stacks").mkdir(parents=True)
    (alone / "Pulumi.yaml").write_bytes((ROOT / "Pulumi.yaml").read_bytes())
    (alone / "stacks" / "Pulumi.prod-us-east-1.yaml").write_text(edited_stack("prod-us-east-1", shared))
    assert preview_stack("prod-us-east-1", root=alone).ok
