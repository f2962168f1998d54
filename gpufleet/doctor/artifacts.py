"""Images in the registry and weights in the bucket: what the workloads phase will pull, checked first."""

from __future__ import annotations

from typing import Any, Callable

from gpufleet.core.model_catalog import load_model_catalog
from gpufleet.core.config import StackConfig
from gpufleet.core.manifests import WEIGHTS_PREFIX
from gpufleet.core.artifacts import Artifact, stack_artifacts

from .api import Api, ApiError
from .findings import Finding, failed, passed

WEIGHTS_MANIFEST = ".gpufleet-weights.json"  # written by `gpufleet weights stage` after a verified upload

# (cloud) -> how to read one artifact's digest from the registry: None when the tag is absent.
DigestReader = Callable[[Api, StackConfig, dict[str, Any], Artifact], "str | None"]


def ecr_digest(api: Api, cfg: StackConfig, outputs: dict[str, Any], a: Artifact) -> str | None:
    repo = f"gpufleet/{cfg.stack}/{a.repository}"
    try:
        body = api.call("ecr", "DescribeImages", f"{a.repository}:{a.tag}", repositoryName=repo,
                        imageIds=[{"imageTag": a.tag}])
    except ApiError as exc:
        if exc.code in ("ImageNotFoundException", "RepositoryNotFoundException"):
            return None
        raise
    details = body.get("imageDetails") or []
    return details[0].get("imageDigest") if details else None


def acr_digest(api: Api, cfg: StackConfig, outputs: dict[str, Any], a: Artifact) -> str | None:
    instance = outputs.get("registryInstanceId", "")
    key = a.repository if a.namespace is None else f"{a.namespace}/{a.repository}"
    try:
        repo = api.call("cr", "GetRepository", key, InstanceId=instance,
                        RepoNamespaceName=a.namespace or "gpufleet", RepoName=a.repository)
        tags = api.call("cr", "ListRepoTag", key, InstanceId=instance, RepoId=repo.get("RepoId", ""))
    except ApiError as exc:
        if exc.code in ("REPO_NOT_EXIST", "RepositoryNotFound"):
            return None
        raise
    found = [i for i in tags.get("Images") or [] if i.get("Tag") == a.tag]
    return found[0].get("Digest") if found else None


DIGEST_READERS: dict[str, DigestReader] = {"aws": ecr_digest, "alicloud": acr_digest}


def _normalise(digest: str | None) -> str | None:
    if digest and not digest.startswith("sha256:"):
        return f"sha256:{digest}"  # ACR lists bare hex digests
    return digest


def image_findings(api: Api, cfg: StackConfig, outputs: dict[str, Any]) -> list[Finding]:
    read = DIGEST_READERS[cfg.cloud]
    found: list[Finding] = []
    for a in stack_artifacts(cfg):
        subject = f"{a.namespace + '/' if a.namespace else ''}{a.repository}:{a.tag}"
        digest = _normalise(read(api, cfg, outputs, a))
        fix = f"gpufleet mirror --stack {cfg.stack}"
        if digest is None:
            found.append(failed(a.kind, subject, f"not in the stack's registry ({outputs.get('registryUrl', '?')})", fix))
        elif a.digest and digest != a.digest:
            found.append(failed(a.kind, subject, f"digest {digest} is not the pinned {a.digest}",
                                f"{fix} (tags are immutable: delete the wrong tag first)"))
        else:
            found.append(passed(a.kind, subject, f"present, {digest}"))
    return found


def weights_findings(api: Api, cfg: StackConfig, outputs: dict[str, Any]) -> list[Finding]:
    """Every model a release loads from the bucket is there, complete, with the stage manifest."""
    bucket = str(outputs.get("weightsBucketUrl", "")).split("://", 1)[-1]
    service = "s3" if cfg.cloud == "aws" else "oss"
    catalog = load_model_catalog()
    found: list[Finding] = []
    for model in sorted({r.model for r in cfg.releases.values() if r.weights_source == "bucket"}):
        entry = catalog.model(model)
        prefix = f"{WEIGHTS_PREFIX}/{model}/"
        body = api.call(service, "ListObjectsV2", prefix, Bucket=bucket, Prefix=prefix)
        objects = {o["Key"][len(prefix):]: int(o.get("Size", 0)) for o in body.get("Contents") or []}
        shards = sum(size for key, size in objects.items() if key.endswith(".safetensors"))
        fix = f"gpufleet weights stage --stack {cfg.stack} --model {model}"
        if WEIGHTS_MANIFEST not in objects or "config.json" not in objects:
            found.append(failed("weights", model, f"s3://{bucket}/{prefix} has no staged copy"
                                if service == "s3" else f"oss://{bucket}/{prefix} has no staged copy", fix))
        elif shards < entry.weights_bytes:
            found.append(failed("weights", model, f"safetensors hold {shards} bytes, the model needs "
                                f"{entry.weights_bytes}", fix))
        else:
            found.append(passed("weights", model, f"{len(objects)} files, {shards} bytes of safetensors"))
    return found
