"""`gpufleet doctor` on recorded API responses (tests/fixtures/doctor/, never live endpoints)."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import ROOT
from gpufleet.cli import main

FIXTURES = ROOT / "tests" / "fixtures" / "doctor"


def doctor(capsys, stack: str, scenario, *extra: str) -> tuple[int, list[str], str]:
    rc = main(["doctor", "--stack", stack, "--recorded", str(scenario), *extra])
    out = capsys.readouterr()
    return rc, out.out.splitlines(), out.err


@pytest.mark.parametrize(("stack", "scenario", "checks"), [
    ("prod-us-east-1", "aws-ready", 10), ("prod-cn-hangzhou", "alicloud-ready", 33)])
def test_a_ready_account_passes_every_check(capsys, stack, scenario, checks):
    rc, lines, err = doctor(capsys, stack, FIXTURES / scenario)
    assert rc == 0 and err == ""
    assert lines[-1] == f"{stack} (workloads phase): {checks} ok, 0 failed"
    assert all(line.startswith("ok    ") for line in lines[:-1])


def test_a_fresh_aws_account_fails_with_one_fix_per_line(capsys):
    rc, lines, _ = doctor(capsys, "prod-us-east-1", FIXTURES / "aws-fresh")
    assert rc == 1
    failures = [line for line in lines if line.startswith("FAIL")]
    assert failures == [
        "FAIL  service-role AWSServiceRoleForAutoScaling: missing in this account; fix: aws iam "
        "create-service-linked-role --aws-service-name autoscaling.amazonaws.com",
        "FAIL  gpu-quota L-DB2E81BA (Running On-Demand G and VT instances, us-east-1): 0 vCPUs < 128 needed at max "
        "size; fix: aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-DB2E81BA "
        "--desired-value 128 --region us-east-1",
        "FAIL  image vllm-openai:v0.27.1: not in the stack's registry "
        "(123456789012.dkr.ecr.us-east-1.amazonaws.com/gpufleet/prod-us-east-1); fix: gpufleet mirror --stack "
        "prod-us-east-1",
        "FAIL  weights Qwen2.5-7B-Instruct: s3://gpufleet-prod-us-east-1-weights-e86faa9e/models/Qwen2.5-7B-Instruct/ "
        "has no staged copy; fix: gpufleet weights stage --stack prod-us-east-1 --model Qwen2.5-7B-Instruct",
        "FAIL  weights Qwen3-8B: s3://gpufleet-prod-us-east-1-weights-e86faa9e/models/Qwen3-8B/ has no staged copy; "
        "fix: gpufleet weights stage --stack prod-us-east-1 --model Qwen3-8B",
    ]
    assert lines[-1] == "prod-us-east-1 (workloads phase): 5 ok, 5 failed"


def test_a_fresh_alibaba_account_fails_with_one_fix_per_line(capsys):
    rc, lines, _ = doctor(capsys, "prod-cn-hangzhou", FIXTURES / "alicloud-fresh")
    assert rc == 1
    failures = [line for line in lines if line.startswith("FAIL")]
    assert [line.split(":", 1)[0] for line in failures] == [
        "FAIL  service-role AliyunCSManagedSecurityRole", "FAIL  service-role AliyunECSDiskEncryptDefaultRole",
        "FAIL  gpu-quota pay-as-you-go vCPUs (cn-hangzhou)", "FAIL  kubernetes-version 1.34",
        "FAIL  image vllm-openai"]
    assert failures[0].endswith("fix: authorise it once as the account owner at "
                                "https://ram.console.aliyun.com/role/authorize (ACK console: Cloud Resource Access "
                                "Authorization)")
    assert "100 < 240 needed at both pools' max size" in failures[2]
    assert failures[3] == ("FAIL  kubernetes-version 1.34: ACK in cn-hangzhou offers 1.32.7-aliyun.1, "
                           "1.33.3-aliyun.1; fix: set gpufleet:cluster.kubernetesVersion to an offered minor")
    assert "is not the pinned sha256:0a51ea5b" in failures[4]


def test_platform_phase_checks_only_the_account(capsys):
    rc, lines, _ = doctor(capsys, "prod-us-east-1", FIXTURES / "aws-fresh", "--phase", "platform")
    assert rc == 1
    assert lines[-1] == "prod-us-east-1 (platform phase): 5 ok, 2 failed"
    assert not [line for line in lines if " image " in line or " weights " in line]


def test_workloads_phase_without_platform_outputs_says_what_to_run(capsys, tmp_path):
    scenario = tmp_path / "no-outputs"
    shutil.copytree(FIXTURES / "aws-ready", scenario)
    (scenario / "stack-outputs.json").unlink()
    rc, lines, _ = doctor(capsys, "prod-us-east-1", scenario)
    assert rc == 1
    assert lines[-2] == ("FAIL  platform-outputs prod-us-east-1: no outputs of the platform stack; fix: run the "
                         "platform phase first, then pass `pulumi stack output --json --show-secrets > outputs.json` "
                         "as --outputs")


def test_weights_smaller_than_the_model_fail(capsys, tmp_path):
    scenario = tmp_path / "short"
    shutil.copytree(FIXTURES / "aws-ready", scenario)
    listing = scenario / "s3.ListObjectsV2.models_Qwen3-8B_.json"
    body = json.loads(listing.read_text())
    body["Contents"] = [o for o in body["Contents"] if not o["Key"].endswith("00004-of-00004.safetensors")]
    listing.write_text(json.dumps(body))
    rc, lines, _ = doctor(capsys, "prod-us-east-1", scenario)
    assert rc == 1
    (bad,) = [line for line in lines if line.startswith("FAIL")]
    assert bad.startswith("FAIL  weights Qwen3-8B: safetensors hold 12286115328 bytes, the model needs 16381470720")


def test_a_missing_recording_is_an_error_not_a_guess(capsys, tmp_path):
    rc, lines, err = doctor(capsys, "prod-us-east-1", tmp_path)
    assert rc == 2 and lines == []
    assert err.strip() == (f"gpufleet: stack 'prod-us-east-1': doctor cannot check: no recorded response "
                           f"iam.GetRole.AWSServiceRoleForAutoScaling.json in {tmp_path}")


def test_bad_stack_is_one_line(capsys, tmp_path):
    rc, _, err = doctor(capsys, "prod-mars-1", FIXTURES / "aws-ready")
    assert rc == 2 and err.count("\n") == 1 and "prod-mars-1" in err
