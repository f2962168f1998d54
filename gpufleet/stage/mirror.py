"""`gpufleet mirror`: copy every pinned image (and the gateway chart) into the stack's registry, by digest.

Images go with skopeo (`copy --all --preserve-digests`: the multi-arch index and
its manifests byte for byte, so the pinned digest still names the copy); the
chart goes with `helm pull` + `helm push`. Each copy is verified: the source's
manifest digest must be the pin, and the destination's must equal the source's.
Registry logins are the operator's (`aws ecr get-login-password | skopeo login
...`, ACR: `skopeo login` with a temporary ACR token); nothing here stores one.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from gpufleet.core.artifacts import Artifact

Runner = Callable[..., subprocess.CompletedProcess]


class MirrorError(RuntimeError):
    """One artifact could not be copied or verified; one line."""


@dataclass(frozen=True)
class Copy:
    artifact: Artifact
    source: str        # transport reference, e.g. docker://docker.io/vllm/vllm-openai@sha256:...
    destination: str   # e.g. docker://<registry>/vllm-openai:v0.27.1

    def line(self) -> str:
        pin = self.artifact.digest or "(no digest pinned: the source's digest is recorded)"
        if self.artifact.kind == "own":
            return f"own   {self.destination}  {pin}  (gpufleet's own image: build and push it, docs/moderation.md)"
        return f"{self.artifact.kind:5} {self.source} -> {self.destination}  {pin}"


def plan_copies(artifacts: Sequence[Artifact], registry_url: str) -> list[Copy]:
    registry = registry_url.rstrip("/")
    copies = []
    for a in artifacts:
        source = f"{a.source}@{a.digest}" if a.digest else f"{a.source}:{a.tag}"
        scheme = "oci://" if a.kind == "chart" else "docker://"
        origin = source if source.startswith(("https://", "http://")) else f"{scheme}{source}"
        target = registry if a.namespace is None else f"{registry.rsplit('/', 1)[0]}/{a.namespace}"
        copies.append(Copy(a, origin, f"{scheme}{target}/{a.repository}:{a.tag}"))
    return copies


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        hint = {"skopeo": "Debian/Ubuntu: apt-get install skopeo", "helm": "https://helm.sh/docs/intro/install/"}[name]
        raise MirrorError(f"{name} is not installed ({hint})")
    return path


def _run(runner: Runner, args: list[str]) -> str:
    done = runner(args, capture_output=True, text=False, timeout=3600)
    if done.returncode != 0:
        err = (done.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise MirrorError(f"{Path(args[0]).name} {args[1]} failed: {err[-1] if err else 'exit ' + str(done.returncode)}")
    return done.stdout


def manifest_digest(ref: str, *, tls_verify: bool = True, runner: Runner = subprocess.run) -> str:
    """sha256 of the raw manifest (or index) bytes: the digest a registry serves the image under."""
    raw = _run(runner, [_tool("skopeo"), "inspect", "--raw", f"--tls-verify={str(tls_verify).lower()}", ref])
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def copy_image(c: Copy, *, tls_verify: bool = True, runner: Runner = subprocess.run) -> str:
    """Copy one image unless the destination already has it; return its verified digest."""
    try:
        source_digest = manifest_digest(c.source, tls_verify=tls_verify, runner=runner)
    except MirrorError as exc:
        what = "the pinned digest" if c.artifact.digest else "this tag"
        raise MirrorError(f"{c.source}: upstream does not serve {what} ({exc})") from None
    if c.artifact.digest and source_digest != c.artifact.digest:
        raise MirrorError(f"{c.source}: upstream serves {source_digest}, not the pinned {c.artifact.digest}")
    try:
        if manifest_digest(c.destination, tls_verify=tls_verify, runner=runner) == source_digest:
            return source_digest
    except MirrorError:
        pass  # not there yet
    flag = f"--tls-verify={str(tls_verify).lower()}"
    _run(runner, [_tool("skopeo"), "copy", "--all", "--preserve-digests", f"--src-{flag[2:]}", f"--dest-{flag[2:]}",
                  c.source, c.destination])
    copied = manifest_digest(c.destination, tls_verify=tls_verify, runner=runner)
    if copied != source_digest:
        raise MirrorError(f"{c.destination}: registry serves {copied} after the copy, source is {source_digest}")
    return copied


def copy_chart(c: Copy, *, runner: Runner = subprocess.run) -> str:
    """helm pull the pinned chart version and push it; the package's sha256 is what gets verified."""
    helm = _tool("helm")
    source, _, version = c.source.removeprefix("oci://").rpartition(":")
    destination = c.destination.removeprefix("oci://").rpartition("/")[0]
    if source.startswith(("https://", "http://")):  # a classic Helm repository: <repo URL>/<chart>
        repo, _, chart = source.rpartition("/")
        pull = [helm, "pull", chart, "--repo", repo, "--version", version]
    else:
        pull = [helm, "pull", f"oci://{source}", "--version", version]
    with tempfile.TemporaryDirectory() as tmp:
        _run(runner, [*pull, "--destination", tmp])
        (package,) = Path(tmp).glob("*.tgz")
        digest = "sha256:" + hashlib.sha256(package.read_bytes()).hexdigest()
        _run(runner, [helm, "push", str(package), f"oci://{destination}"])
    return digest


def mirror(copies: Sequence[Copy], *, tls_verify: bool = True, runner: Runner = subprocess.run,
           echo: Callable[[str], None] = print) -> list[tuple[Copy, str]]:
    done = []
    for c in copies:
        if c.artifact.kind == "own":  # built here, not copied: `gpufleet doctor` checks it is there
            echo(f"skip  {c.artifact.repository}:{c.artifact.tag} (gpufleet's own image: build and push it)")
            continue
        digest = copy_chart(c, runner=runner) if c.artifact.kind == "chart" else copy_image(
            c, tls_verify=tls_verify, runner=runner)
        echo(f"ok    {c.artifact.repository}:{c.artifact.tag} {digest}")
        done.append((c, digest))
    return done
