"""Every image (and chart) a stack's workloads phase pulls, and where it must be first.

One list serves three jobs: the platform phase creates a registry repository
for each (so nothing is created empty and awaited in the same run), `gpufleet
mirror` copies each from upstream by digest, and `gpufleet doctor` checks each
is present before the workloads phase runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from gpufleet.core.config import StackConfig
from gpufleet.core.gateway_pins import (
    ENVOY_GATEWAY_CHART, ENVOY_GATEWAY_IMAGE, ENVOY_GATEWAY_VERSION, ENVOY_PROXY_IMAGE, ENVOY_RATELIMIT_IMAGE,
)
from gpufleet.core.gpu_plugin import NVIDIA_DEVICE_PLUGIN_IMAGE
from gpufleet.core.manifests import parse_image
from gpufleet.core.workloads import fetcher_image, in_stack_registry

# Where an image named without a registry (`vllm-openai:<tag>@<digest>`) comes from upstream.
UPSTREAM_OF_STACK_REPOS = {"vllm-openai": "docker.io/vllm/vllm-openai"}


@dataclass(frozen=True)
class Artifact:
    """One pinned artifact: upstream source, the stack repository it must be in, tag and digest."""

    source: str          # e.g. docker.io/envoyproxy/envoy
    repository: str      # repository name inside the stack's registry namespace, e.g. envoy
    tag: str
    digest: str | None   # None only for charts (Helm pins by version)
    kind: str = "image"  # image | chart
    namespace: str | None = None  # registry namespace when not the stack's own (ACR: charts)

    @property
    def source_ref(self) -> str:
        return f"{self.source}:{self.tag}" + (f"@{self.digest}" if self.digest else "")


def _image(ref: str) -> Artifact:
    parsed = parse_image(ref)
    return Artifact(f"{parsed.host}/{parsed.repository}", parsed.repository.rsplit("/", 1)[-1],
                    parsed.tag or "", parsed.digest)


def release_artifacts(cfg: StackConfig) -> list[Artifact]:
    """Model-server images that live in the stack's own registry (bare names, or already resolved to it)."""
    found: dict[str, Artifact] = {}
    for release in cfg.releases.values():
        if not (in_stack_registry(release.image) or _in_own_registry(release.image)):
            continue
        parsed = parse_image(release.image)
        repo = parsed.repository.rsplit("/", 1)[-1]
        upstream = UPSTREAM_OF_STACK_REPOS.get(repo, f"docker.io/{repo}")
        found[repo + (parsed.tag or "")] = Artifact(upstream, repo, parsed.tag or "", parsed.digest)
    return sorted(found.values(), key=lambda a: (a.repository, a.tag))


def own_artifacts(cfg: StackConfig) -> list[Artifact]:
    """gpufleet's own images the stack pulls from its registry (the moderation proxy): built and pushed by the
    operator (docs/moderation.md), so `gpufleet mirror` lists them and `gpufleet doctor` checks them."""
    from gpufleet.core.moderation_stage import stage_enabled

    m = cfg.compliance.moderation
    if not stage_enabled(cfg) or m is None or m.image is None or not in_stack_registry(str(m.image)):
        return []
    parsed = parse_image(str(m.image))
    return [Artifact("", parsed.repository, parsed.tag or "", parsed.digest, kind="own")]


def stack_artifacts(cfg: StackConfig) -> list[Artifact]:
    """What must be in the stack's registry before the workloads phase (China: everything it pulls)."""
    items = release_artifacts(cfg) + own_artifacts(cfg)
    if cfg.jurisdiction == "cn":
        items += [_image(ENVOY_GATEWAY_IMAGE), _image(ENVOY_PROXY_IMAGE), _image(ENVOY_RATELIMIT_IMAGE),
                  Artifact(ENVOY_GATEWAY_CHART.removeprefix("oci://"), "gateway-helm", ENVOY_GATEWAY_VERSION, None,
                           kind="chart")]
        items += keda_artifacts() + observability_artifacts(cfg)
        fetcher = fetcher_image(cfg)
        if fetcher and not in_stack_registry(fetcher) and not _in_own_registry(fetcher):
            items.append(_image(fetcher))
    return items


def keda_artifacts() -> list[Artifact]:
    """KEDA's images and chart (classic Helm repository), which China stacks take from their ACR."""
    from gpufleet.core.autoscaling_addons import catalog

    from gpufleet.core.autoscaling_addons import CHARTS_NAMESPACE

    keda = catalog()["keda"]
    return [_image(ref) for _, ref in sorted(keda["images"].items())] + [
        Artifact(f"{keda['repo'].rstrip('/')}/{keda['chart']}", keda["chart"], keda["version"], None, kind="chart",
                 namespace=CHARTS_NAMESPACE)]


def observability_artifacts(cfg: StackConfig) -> list[Artifact]:
    """The metrics pipeline's charts this stack installs and their images (China: from the stack's ACR)."""
    from gpufleet.core.observability_charts import catalog as obs_catalog, charts_for

    cat = obs_catalog()
    installed = [c.name for c, _ in charts_for(cfg)]
    images = [_image(e["image"]) for _, e in sorted(cat["images"].items()) if e["chart"] in installed]
    charts = [Artifact(f"{cat['charts'][n]['repository'].rstrip('/')}/{n}", n, cat["charts"][n]["version"], None,
                       kind="chart") for n in installed]
    return images + charts


def _in_own_registry(ref: str) -> bool:
    return ".cr.aliyuncs.com/" in ref or ".dkr.ecr." in ref


def repositories(cfg: StackConfig) -> list[str]:
    """Repository names to create in the stack's own registry namespace (sorted, unique)."""
    return sorted({a.repository for a in stack_artifacts(cfg) if a.namespace is None})


def namespaced_repositories(cfg: StackConfig) -> dict[str, list[str]]:
    """Repositories in other namespaces of the registry (ACR: charts), by namespace."""
    found: dict[str, set[str]] = {}
    for a in stack_artifacts(cfg):
        if a.namespace is not None:
            found.setdefault(a.namespace, set()).add(a.repository)
    return {ns: sorted(repos) for ns, repos in sorted(found.items())}


def device_plugin_image() -> str:
    return NVIDIA_DEVICE_PLUGIN_IMAGE
