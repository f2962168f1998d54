"""Packages of the gpufleet distribution; all other metadata is in pyproject.toml.

The Kubernetes templates and CRDs (`k8s/`), the Locust scenarios (`loadtests/`) and the
CrossGuard pack entry (`policy/`) stay where users and editors expect them in the
repository, and ship inside the wheel under names no other distribution uses. At run time
`gpufleet.core.assets` prefers the user's project's own copy and falls back to these.
"""

from pathlib import Path

from setuptools import find_namespace_packages, setup

DATA_TREES = {
    "gpufleet_k8s": "k8s",
    "gpufleet_loadtests": "loadtests",
    "gpufleet_loadtests.common": "loadtests/common",
    "gpufleet_policy_pack": "policy",
}



def data_packages() -> list[str]:
    """Each tree, and its subdirectories that are valid package names (data-only namespaces)."""
    found = []
    for package, directory in DATA_TREES.items():
        found.append(package)
        for sub in sorted(Path(directory).rglob("*")):
            parts = sub.relative_to(directory).parts
            if sub.is_dir() and "__pycache__" not in parts and all(p.isidentifier() for p in parts):
                name = ".".join((package, *parts))
                if name not in DATA_TREES:
                    found.append(name)
    return found


setup(
    packages=[*find_namespace_packages(include=["gpufleet", "gpufleet.*"], exclude=["*.__pycache__"]), *data_packages()],
    package_dir=DATA_TREES,
)
