"""`gpufleet weights stage`: a model's weights into the stack's bucket, verified by sha256.

Source: ModelScope for China stacks (in region, no cross-border pull), the
Hugging Face hub elsewhere, or a local directory already downloaded (`--from`).
Every file's sha256 is computed locally and compared with the hub's published
LFS sha256 where the hub gives one; after the upload the bucket's object sizes
are compared with the manifest, and only then is the manifest
(`models/<model>/.gpufleet-weights.json`) written: `gpufleet doctor` treats a
prefix without it as not staged.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Protocol

from gpufleet.core.manifests import WEIGHTS_PREFIX

MANIFEST = ".gpufleet-weights.json"
WANTED = ("*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken")


class StageError(RuntimeError):
    """Weights could not be fetched, verified or uploaded; one line."""


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_manifest(model: str, source: str, directory: Path) -> dict:
    files = {str(p.relative_to(directory)): {"size": p.stat().st_size, "sha256": sha256_of(p)}
             for p in sorted(directory.rglob("*")) if p.is_file() and not p.name.startswith(".")}
    if "config.json" not in files or not any(k.endswith(".safetensors") for k in files):
        raise StageError(f"{directory} has no config.json and *.safetensors for {model}")
    return {"model": model, "source": source, "files": files}


def check_published(manifest: dict, published: Mapping[str, str]) -> None:
    """Every file the hub publishes a sha256 for must hash to it."""
    for name, digest in sorted(published.items()):
        got = manifest["files"].get(name)
        if got is None:
            raise StageError(f"{manifest['model']}: {name} is published by the hub but was not downloaded")
        if got["sha256"] != digest:
            raise StageError(f"{manifest['model']}: {name} has sha256 {got['sha256']}, the hub publishes {digest}")


class Bucket(Protocol):
    def put(self, key: str, path: Path) -> None: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def sizes(self, prefix: str) -> dict[str, int]: ...


@dataclass
class LocalBucket:
    """file:///dir: a directory standing in for a bucket (tests, air-gapped staging areas)."""

    root: Path

    def put(self, key: str, path: Path) -> None:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def sizes(self, prefix: str) -> dict[str, int]:
        base = self.root / prefix
        return {str(p.relative_to(self.root)): p.stat().st_size for p in base.rglob("*") if p.is_file()} \
            if base.exists() else {}


@dataclass
class S3Bucket:
    """boto3 with the usual credential chain; uploads carry a SHA-256 checksum S3 verifies on receipt."""

    name: str
    region: str

    def _client(self):
        try:
            import boto3
        except ImportError:
            raise StageError("staging to S3 needs boto3 (pip install boto3)") from None
        return boto3.client("s3", region_name=self.region)

    def put(self, key: str, path: Path) -> None:
        self._client().upload_file(str(path), self.name, key, ExtraArgs={"ChecksumAlgorithm": "SHA256"})

    def put_bytes(self, key: str, data: bytes) -> None:
        self._client().put_object(Bucket=self.name, Key=key, Body=data, ChecksumAlgorithm="SHA256")

    def sizes(self, prefix: str) -> dict[str, int]:
        pages = self._client().get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
        return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}


@dataclass
class OssBucket:
    """oss2 (Alibaba Cloud's OSS SDK) over the region's endpoint; credentials from ALIBABA_CLOUD_* variables."""

    name: str
    region: str

    def _bucket(self):
        try:
            import os

            import oss2
        except ImportError:
            raise StageError("staging to OSS needs oss2 (pip install oss2)") from None
        auth = oss2.Auth(os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"], os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"])
        return oss2.Bucket(auth, f"https://oss-{self.region}.aliyuncs.com", self.name)

    def put(self, key: str, path: Path) -> None:
        self._bucket().put_object_from_file(key, str(path))

    def put_bytes(self, key: str, data: bytes) -> None:
        self._bucket().put_object(key, data)

    def sizes(self, prefix: str) -> dict[str, int]:
        import oss2
        return {o.key: o.size for o in oss2.ObjectIteratorV2(self._bucket(), prefix=prefix)}


def bucket_for(url: str, region: str) -> Bucket:
    scheme, _, rest = url.partition("://")
    if scheme == "file":
        return LocalBucket(Path(rest))
    if scheme == "s3":
        return S3Bucket(rest.strip("/"), region)
    if scheme == "oss":
        return OssBucket(rest.strip("/"), region)
    raise StageError(f"unsupported bucket URL {url!r} (allowed: s3://, oss://, file://)")


def upload(manifest: dict, directory: Path, bucket: Bucket) -> str:
    """Upload every file, check the bucket's sizes against the manifest, then write the manifest; return the prefix."""
    prefix = f"{WEIGHTS_PREFIX}/{manifest['model']}/"
    for name in manifest["files"]:
        bucket.put(prefix + name, directory / name)
    stored = bucket.sizes(prefix)
    for name, meta in manifest["files"].items():
        if stored.get(prefix + name) != meta["size"]:
            raise StageError(f"{prefix}{name}: bucket holds {stored.get(prefix + name)} bytes, uploaded {meta['size']}")
    bucket.put_bytes(prefix + MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
    return prefix


def verify_staged(manifest: dict, directory: Path) -> list[str]:
    """Files whose content no longer matches the manifest (re-hashed): empty means intact."""
    return [name for name, meta in sorted(manifest["files"].items())
            if not (directory / name).exists() or sha256_of(directory / name) != meta["sha256"]]
