"""Which simulator profile stands in for a release with `gpufleet plan --local`.

A profile is a (GPU, GPU count, model) combination calibrated from published
vLLM figures (gpufleet/simserver/profiles.yaml). The stand-in must run on the
release's GPU type with as many GPUs as one replica uses (its tensor-parallel
size); among those, the model closest in parameter count wins. The simulated
knee is a rehearsal either way: the README says so.
"""

from __future__ import annotations

from gpufleet.simserver.profiles import Profile, load_profiles

# The model catalog and the simulator name some GPUs differently: the AWS A10G
# is NVIDIA's A10 with the same 24 GB and 600 GB/s, and the catalog's A100 and
# H100 are the SXM parts the profiles describe.
_ALIASES = {"A10G-24GB": "A10-24GB"}


def simulator_gpu(catalog_gpu: str) -> str:
    return _ALIASES.get(catalog_gpu, catalog_gpu)


def _profile_gpu(profile: Profile) -> str:
    return profile.hardware.gpu.removesuffix("-SXM")


def choose_profile(stack: str, release: str, gpu: str, gpus_per_replica: int, params: int) -> Profile:
    """The profile for this GPU and count with the nearest parameter count; ValueError names the options."""
    book = load_profiles()
    wanted = simulator_gpu(gpu)
    fits = [p for p in book.profiles.values()
            if _profile_gpu(p) == wanted and p.hardware.gpu_count == gpus_per_replica]
    if not fits:
        known = ", ".join(f"{name} ({p.hardware.gpu_count}x {p.hardware.gpu})" for name, p in sorted(book.profiles.items()))
        raise ValueError(
            f"stack '{stack}': release '{release}' runs on {gpus_per_replica}x {gpu} and no simulator profile does "
            f"(profiles: {known}); pick one with --sim-profile NAME"
        )
    return min(fits, key=lambda p: (abs(p.hardware.params_b * 1e9 - params), p.name))


def profile_by_name(name: str) -> Profile:
    return load_profiles().get(name)
