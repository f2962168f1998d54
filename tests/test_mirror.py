"""`gpufleet mirror` against a real registry (Debian's docker-registry, the CNCF distribution server) on
127.0.0.1, copying with the real skopeo: digests survive the copy and a wrong pin is refused."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
import time
import urllib.request

import pytest

from gpufleet.core.artifacts import Artifact
from gpufleet.stage.mirror import MirrorError, manifest_digest, mirror, plan_copies
from system_tools import free_port, require_tool


def _blob(root, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (root / "blobs" / "sha256" / digest).write_bytes(data)
    return f"sha256:{digest}"


def oci_layout(root, tag: str) -> None:
    """A one-layer OCI image layout written by hand (no container engine needed)."""
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
        payload = b"gpufleet mirror test\n"
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime = len(payload), 0
        tar.addfile(info, io.BytesIO(payload))
    layer = gzip.compress(tar_bytes.getvalue(), mtime=0)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar_bytes.getvalue()).hexdigest()]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": _blob(root, config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": _blob(root, layer), "size": len(layer)}],
    }).encode()
    index = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": _blob(root, manifest), "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    (root / "index.json").write_text(json.dumps(index))
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')


@pytest.fixture
def registry(tmp_path):
    """A throwaway registry on a free port, stopped after the test."""
    server = require_tool("docker-registry")
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {tmp_path / 'data'}\n"
                      f"http:\n  addr: 127.0.0.1:{port}\nlog:\n  level: error\n")
    proc = subprocess.Popen([server, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("docker-registry did not start", pytrace=False)
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def upstream(registry, tmp_path):
    """An 'upstream' image in the registry, pushed from the hand-written layout; returns (repo, digest)."""
    skopeo = require_tool("skopeo")
    oci_layout(tmp_path / "layout", "v1")
    repo = f"{registry}/upstream/vllm-openai"
    subprocess.run([skopeo, "copy", "--dest-tls-verify=false", f"oci:{tmp_path / 'layout'}:v1", f"docker://{repo}:v1"],
                   check=True, capture_output=True, timeout=60)
    return repo, manifest_digest(f"docker://{repo}:v1", tls_verify=False)


def test_mirror_copies_by_digest_and_verifies(registry, upstream):
    repo, digest = upstream
    pinned = Artifact(repo, "vllm-openai", "v1", digest)
    copies = plan_copies([pinned], f"{registry}/gpufleet/prod-test")
    assert copies[0].destination == f"docker://{registry}/gpufleet/prod-test/vllm-openai:v1"
    lines: list[str] = []
    assert [d for _, d in mirror(copies, tls_verify=False, echo=lines.append)] == [digest]
    assert manifest_digest(copies[0].destination, tls_verify=False) == digest
    assert lines == [f"ok    vllm-openai:v1 {digest}"]
    assert [d for _, d in mirror(copies, tls_verify=False, echo=lambda _: None)] == [digest]  # idempotent


def test_a_pin_the_upstream_does_not_serve_is_refused(registry, upstream):
    repo, digest = upstream
    wrong = "sha256:" + "0" * 64
    copies = plan_copies([Artifact(repo, "vllm-openai", "v1", wrong)], f"{registry}/gpufleet/prod-test")
    with pytest.raises(MirrorError) as exc:
        mirror(copies, tls_verify=False, echo=lambda _: None)
    assert str(exc.value).startswith(f"docker://{repo}@{wrong}: upstream does not serve the pinned digest "
                                     "(skopeo inspect failed: ")
    assert "\n" not in str(exc.value)
    with pytest.raises(MirrorError):  # and nothing was copied under the tag
        manifest_digest(copies[0].destination, tls_verify=False)
