"""`gpufleet weights stage` with a local snapshot and a file:// bucket: sha256 manifest, sizes checked."""

from __future__ import annotations

import json

import pytest

from gpufleet.cli import main
from gpufleet.stage.weights import StageError, build_manifest, check_published, sha256_of, verify_staged


def snapshot(tmp_path):
    d = tmp_path / "snap"
    d.mkdir()
    (d / "config.json").write_text('{"architectures": ["Qwen2ForCausalLM"]}')
    (d / "model-00001-of-00002.safetensors").write_bytes(b"\x01" * 4096)
    (d / "model-00002-of-00002.safetensors").write_bytes(b"\x02" * 1024)
    return d


def test_stage_uploads_every_file_and_writes_the_manifest_last(tmp_path, capsys):
    snap, bucket = snapshot(tmp_path), tmp_path / "bucket"
    rc = main(["weights", "stage", "--stack", "prod-us-east-1", "--model", "Qwen3-8B", "--from", str(snap),
               "--bucket", f"file://{bucket}"])
    assert rc == 0, capsys.readouterr().err
    staged = bucket / "models" / "Qwen3-8B"
    manifest = json.loads((staged / ".gpufleet-weights.json").read_text())
    assert manifest["files"]["model-00002-of-00002.safetensors"] == {
        "size": 1024, "sha256": sha256_of(snap / "model-00002-of-00002.safetensors")}
    assert verify_staged(manifest, staged) == []
    (staged / "model-00002-of-00002.safetensors").write_bytes(b"\x03" * 1024)  # same size, other bytes
    assert verify_staged(manifest, staged) == ["model-00002-of-00002.safetensors"]
    assert capsys.readouterr().out.startswith("prod-us-east-1: 3 files (5159 bytes) of Qwen3-8B in file://")


def test_a_file_that_does_not_hash_to_the_published_sha256_is_refused(tmp_path):
    manifest = build_manifest("Qwen3-8B", "local", snapshot(tmp_path))
    with pytest.raises(StageError, match="^Qwen3-8B: model-00001-of-00002.safetensors has sha256 [0-9a-f]{64}, "
                                         "the hub publishes 0{64}$"):
        check_published(manifest, {"model-00001-of-00002.safetensors": "0" * 64})


def test_a_model_no_release_serves_is_one_line(tmp_path, capsys):
    rc = main(["weights", "stage", "--stack", "prod-us-east-1", "--model", "Qwen2.5-72B-Instruct",
               "--bucket", f"file://{tmp_path}"])
    assert rc == 2
    assert capsys.readouterr().err.strip() == ("gpufleet: stack 'prod-us-east-1': --model: 'Qwen2.5-72B-Instruct' is "
                                               "served by no release (allowed: Qwen2.5-7B-Instruct, Qwen3-8B)")


def test_a_snapshot_without_weights_is_refused(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    rc = main(["weights", "stage", "--stack", "prod-us-east-1", "--model", "Qwen3-8B", "--from", str(empty),
               "--bucket", f"file://{tmp_path / 'b'}"])
    assert rc == 1
    assert capsys.readouterr().err.strip() == (f"gpufleet: stack 'prod-us-east-1': weights stage: {empty} has no "
                                               "config.json and *.safetensors for Qwen3-8B")


def test_mirror_dry_run_lists_every_copy(capsys, tmp_path):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"registryUrl": "gpufleet-prod-cn-hangzhou-acr-registry-vpc.cn-hangzhou.cr.aliyuncs.com/gpufleet"}))
    assert main(["mirror", "--stack", "prod-cn-hangzhou", "--outputs", str(outputs), "--public-endpoint", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("image docker://docker.io/vllm/vllm-openai@sha256:0a51ea5b4ae2dc5d81890e5173f54203d2a3ae0cfffe51b8fd2afd4391bfd967"
                        " -> docker://gpufleet-prod-cn-hangzhou-acr-registry.cn-hangzhou.cr.aliyuncs.com/gpufleet/"
                        "vllm-openai:v0.27.1  sha256:0a51ea5b4ae2dc5d81890e5173f54203d2a3ae0cfffe51b8fd2afd4391bfd967")
    assert len(lines) == 22 and lines[5].startswith("chart oci://docker.io/envoyproxy/gateway-helm:v1.7.0 -> oci://")
    assert lines[1].startswith("own   docker://gpufleet-prod-cn-hangzhou-acr-registry.cn-hangzhou.cr.aliyuncs.com/gpufleet/"
                               "gpufleet-moderation:0.1.0  sha256:")
    assert lines[9].startswith("chart https://kedacore.github.io/charts/keda:2.20.2 -> oci://gpufleet-prod-cn-hangzhou-acr-registry."
                                "cn-hangzhou.cr.aliyuncs.com/gpufleet-charts/keda:2.20.2")
