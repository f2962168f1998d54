"""Render the in-region load test: the same Locust scenario as Jobs inside a target cluster.

For a China stack the load must come from inside that region (crossing the
border adds latency and loss that are not the service's), so the scenario
runs as a Locust master Job plus a Job of N workers in the target cluster.
Pure: parameters in, plain dicts out, through the same YAML templates and
tags (`!param`, `!format`, `!merge`) as the rest of `k8s/`.
"""

from __future__ import annotations

import shlex
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from gpufleet.loadtest.runner import (
    API_KEY_ENV,
    LOADTESTS_DIR,
    SAFETY_MARGIN_S,
    LoadPlan,
    locust_args,
    locustfile_for,
)
from gpufleet.core.slo import SloSpec
from gpufleet.loadtest.target import check_target
from gpufleet.core.manifests import RUN_AS_USER, pss_version
from gpufleet.core.templates import render_template
from gpufleet.core.assets import asset, loadtests_dir as project_loadtests_dir, packaged_dir

TEMPLATES_DIR = packaged_dir("k8s") / "loadtest"  # the installed ones; a project's own k8s/loadtest/ file wins
MOUNT = "/opt/loadtests"
MASTER_PORT = 5557
CONFIGMAP_LIMIT = 900 * 1024  # ConfigMaps hold at most 1 MiB; keep a margin
_TEMPLATES = (
    "namespace.yaml",
    "serviceaccount.yaml",
    "configmap.yaml",
    "service.yaml",
    "master-job.yaml",
    "worker-job.yaml",
    "networkpolicies.yaml",
)
_SCENARIO_SUFFIXES = {".py", ".txt", ".yaml"}


def scenario_files(loadtests_dir: Path = LOADTESTS_DIR) -> dict[str, str]:
    """Relative path -> text of every file the scenario needs (no caches, no tests)."""
    files = {}
    for path in sorted(loadtests_dir.rglob("*")):
        if path.is_file() and path.suffix in _SCENARIO_SUFFIXES and "__pycache__" not in path.parts:
            files[path.relative_to(loadtests_dir).as_posix()] = path.read_text(encoding="utf-8")
    return files


def configmap_key(relative: str) -> str:
    """ConfigMap keys may not contain '/'; `items` in the pods map each key back to its path."""
    return relative.replace("/", "--")


def master_script(plan: LoadPlan, workers: int, run_id: str) -> str:
    """Run the master, then judge the raw run; the shell exits with the gate's code."""
    args = locust_args(plan, out_path="/results/run.json", run_id=run_id, loadtests_dir=MOUNT, master_of=workers)
    locust = shlex.join(["python", "-m", "locust", *args])
    judge = shlex.join(["python", "-m", "gpufleet.cli", "loadtest", "--from-run", "/results/run.json",
                        "--slo", "/opt/slo/slo.yaml", "--json-line", "--quiet"])
    return f"{locust}\nexec {judge}\n"


def render_loadtest_manifests(
    namespace: str,
    image: str,
    target_url: str,
    workers: int,
    *,
    slo: SloSpec,
    target_namespace: str,
    model: str = "",
    name: str = "gpufleet-loadtest",
    kubernetes_version: str = "1.33",
    run_id: str | None = None,
    timeout_s: float = 120.0,
    stall_timeout_s: float = 30.0,
    worker_cpu: str = "1",
    worker_memory: str = "1Gi",
    node_selector: dict[str, str] | None = None,
    api_key_secret: str | None = None,
    loadtests_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """Every object of one in-cluster load test, namespace first.

    `target_url` is the in-cluster URL of the model server (e.g.
    http://vllm-main.llm.svc:8000); `target_namespace` is its namespace, which
    the workers' NetworkPolicy opens egress to (the server's own policy must
    admit `namespace` as a client namespace). `api_key_secret` names a Secret
    whose `api-key` entry becomes the bearer token (GPUFLEET_API_KEY), so the
    key never appears in a manifest or on a command line.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    target = check_target(target_url, allow_remote=True)
    parts = urlsplit(target)
    target_port = parts.port or (443 if parts.scheme == "https" else 80)
    plan = LoadPlan(target=target, workload=slo.workload, duration_s=slo.duration_s, warmup_s=slo.warmup_s,
                    users=slo.target_users, rate=slo.target_rate, model=model, processes=workers,
                    max_in_flight=slo.max_in_flight, seed=slo.seed, timeout_s=timeout_s,
                    stall_timeout_s=stall_timeout_s)
    loadtests_dir = loadtests_dir or project_loadtests_dir()
    scenario = scenario_files(loadtests_dir)
    files = {configmap_key(rel): text for rel, text in scenario.items()}
    if len(files) != len(scenario) or "slo.yaml" in files:
        raise ValueError("two scenario files map to the same ConfigMap key")
    files["slo.yaml"] = yaml.safe_dump({"gpufleet:slo": slo.model_dump(by_alias=True, mode="json", exclude_none=True)},
                                       sort_keys=False, allow_unicode=True)
    size = sum(len(text.encode("utf-8")) for text in files.values())
    if size > CONFIGMAP_LIMIT:
        raise ValueError(f"scenario files take {size} bytes, more than a ConfigMap holds ({CONFIGMAP_LIMIT})")
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "gpufleet",
              "app.kubernetes.io/managed-by": "gpufleet"}
    master_selector = {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "master"}
    worker_selector = {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "worker"}
    locustfile = f"{MOUNT}/{locustfile_for(slo.workload, loadtests_dir).name}"
    values = {
        "name": name,
        "namespace": namespace,
        "labels": labels,
        "master_labels": {**labels, **master_selector},
        "worker_labels": {**labels, **worker_selector},
        "master_selector": master_selector,
        "worker_selector": worker_selector,
        "pss_version": pss_version(kubernetes_version),
        "files": files,
        "scenario_items": [{"key": configmap_key(rel), "path": rel} for rel in sorted(scenario)],
        "image": image,
        "workers": workers,
        "master_port": MASTER_PORT,
        "master_script": master_script(plan, workers, run_id or uuid.uuid4().hex[:12]),
        "worker_command": ["python", "-m", "locust", "-f", locustfile, "--worker",
                           "--master-host", f"{name}-master", "--master-port", str(MASTER_PORT)],
        "env": [{"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}, {"name": "PYTHONUNBUFFERED", "value": "1"},
                {"name": "HOME", "value": "/tmp"}]
        + ([{"name": API_KEY_ENV, "valueFrom": {"secretKeyRef": {"name": api_key_secret, "key": "api-key"}}}]
           if api_key_secret else []),
        "run_as_user": RUN_AS_USER,
        "node_selector": dict(node_selector) if node_selector else None,
        "deadline_seconds": int(plan.expected_end_s + SAFETY_MARGIN_S + 900),  # + time to schedule workers
        "master_resources": {"requests": {"cpu": "500m", "memory": "512Mi"},
                             "limits": {"cpu": "1", "memory": "1Gi"}},
        "worker_resources": {"requests": {"cpu": worker_cpu, "memory": worker_memory},
                             "limits": {"cpu": worker_cpu, "memory": worker_memory}},
        "target_namespace": target_namespace,
        "target_port": target_port,
    }
    objects: list[dict[str, Any]] = []
    for template in _TEMPLATES:
        objects.extend(render_template(asset("k8s", f"loadtest/{template}"), values))
    return objects
