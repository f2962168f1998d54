"""Secrets anywhere in stack config (`pulumi config set --secret --path`) never show in plaintext."""

from __future__ import annotations

import json

import pulumi
import pytest
import yaml

from conftest import ROOT, edited_stack, scratch_project
from gpufleet.cli import main
from gpufleet.core.config import load_stack, parse_stack_config, raw_stack_config
from gpufleet.core.errors import StackConfigError
from gpufleet.core.secrets import SECRET_PLACEHOLDER, mask_config
from gpufleet.preview.engine import preview_stack

CIPHER = "v1:Z2VuYWktZmlsaW5nLWNpcGhlcnRleHQ="
FILED = {"publicEndpoint": True, "icpFiling": "浙ICP备2024012345号-1", "genaiFilingId": {"secure": CIPHER},
         "moderation": {"provider": "aliyun-green", "endpoint": "https://green-cip.cn-hangzhou.aliyuncs.com",
                        "image": "gpufleet-moderation:0.1.0@sha256:" + "0" * 64}}


def test_nested_secure_values_are_masked_and_their_key_is_secret():
    config = {"gpufleet:compliance": FILED, "gpufleet:team": "llm", "gpufleet:list": [{"a": {"secure": "v1:x"}}]}
    masked, keys = mask_config(config)
    assert keys == ["gpufleet:compliance", "gpufleet:list"]
    assert masked["gpufleet:compliance"]["genaiFilingId"] == SECRET_PLACEHOLDER
    assert masked["gpufleet:list"] == [{"a": SECRET_PLACEHOLDER}]
    assert CIPHER not in json.dumps(masked, ensure_ascii=False)


def test_a_stack_with_a_nested_secret_loads_and_keeps_it_a_placeholder():
    text = edited_stack("prod-cn-hangzhou", {"gpufleet:compliance": FILED})
    raw, keys = raw_stack_config(text, ROOT)
    assert keys == ["gpufleet:compliance"]
    cfg = load_stack("prod-cn-hangzhou", text=text, root=ROOT)
    assert cfg.compliance.genai_filing_id == SECRET_PLACEHOLDER  # present (the filing policy passes), never readable
    assert cfg.secret_keys == frozenset({"gpufleet:compliance"})
    assert cfg.compliance.icp_filing == "浙ICP备2024012345号-1"


def test_offline_preview_shows_secret_and_passes_policies(tmp_path, capsys):
    project = scratch_project(tmp_path)
    (project / "stacks").mkdir()
    (project / "stacks" / "Pulumi.prod-cn-hangzhou.yaml").write_text(
        edited_stack("prod-cn-hangzhou", {"gpufleet:compliance": FILED}))
    assert main(["-C", str(project), "preview", "--all", "--json"]) == 0
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert doc["stacks"][0]["ok"] is True and doc["stacks"][0]["policies"] == []
    assert CIPHER not in out.out + out.err
    assert main(["-C", str(project), "preview", "--all"]) == 0
    table = capsys.readouterr()
    assert CIPHER not in table.out + table.err


def test_the_program_gets_secret_keys_and_marks_what_it_builds_from_them():
    from gpufleet.infra.stack_config import read_pulumi_config, secret_input

    seen = {}

    def program():
        cfg = read_pulumi_config()
        seen["keys"] = cfg.secret_keys
        filing = secret_input(cfg, "gpufleet:compliance", cfg.compliance.icp_filing)
        seen["is_output"] = isinstance(filing, pulumi.Output)
        pulumi.export("filing", filing)
        pulumi.export("team", secret_input(cfg, "gpufleet:team", cfg.team))

    text = edited_stack("prod-cn-hangzhou", {"gpufleet:compliance": FILED})
    result = preview_stack("prod-cn-hangzhou", program=program, text=text, root=ROOT)
    assert result.ok, result.error
    assert seen == {"keys": frozenset({"gpufleet:compliance"}), "is_output": True}
    assert result.outputs["filing"] == SECRET_PLACEHOLDER  # the plaintext filing is not shown either
    assert result.outputs["team"] != SECRET_PLACEHOLDER


def test_decrypted_secrets_never_appear_in_an_error():
    """Under `pulumi up` the engine passes plaintext; a bad secret value is reported without it."""
    raw, _ = raw_stack_config(edited_stack("prod-cn-hangzhou", {}), ROOT)
    plaintext = "Zhejiang-Assistant-!!secret!!"
    raw["gpufleet:compliance"] = json.dumps({"publicEndpoint": True, "genaiFilingId": plaintext})
    with pytest.raises(StackConfigError) as info:
        parse_stack_config("prod-cn-hangzhou", raw, secret_keys={"gpufleet:compliance"})
    message = str(info.value)
    assert plaintext not in message and SECRET_PLACEHOLDER in message
    assert message.startswith("stack 'prod-cn-hangzhou': gpufleet:compliance.genaiFilingId: ")
    with pytest.raises(StackConfigError) as plain:  # the same value, not secret, is quoted as usual
        parse_stack_config("prod-cn-hangzhou", raw)
    assert plaintext in str(plain.value)


def test_a_required_key_held_as_a_secret_says_so_offline():
    text = edited_stack("prod-cn-hangzhou", {"gpufleet:team": {"secure": "v1:dGVhbQ=="}})
    with pytest.raises(StackConfigError) as info:
        load_stack("prod-cn-hangzhou", text=text, root=ROOT)
    assert str(info.value) == ("stack 'prod-cn-hangzhou': gpufleet:team: is a secret that the offline preview "
                               "cannot decrypt, and its value is needed here; check it with `pulumi preview`")


def test_shipped_stacks_have_no_plaintext_secret_markers():
    for path in (ROOT / "stacks").glob("Pulumi.*.yaml"):
        assert SECRET_PLACEHOLDER not in yaml.safe_dump(yaml.safe_load(path.read_text()))
