"""What `pulumi up` would apply to each shipped stack's cluster: strict schemas,
checkov, in-region supply chain for China, and bad releases refused up front."""

from __future__ import annotations

import json
import subprocess

import kubernetes_validate
import pytest
import yaml

from conftest import ROOT, cached_preview, edited_stack, shipped_stacks
from gpufleet.preview.engine import preview_stack
from gpufleet.core.config import load_stack

STACKS = shipped_stacks()
CN = [s for s in STACKS if load_stack(s).jurisdiction == "cn"]
AWS = [s for s in STACKS if load_stack(s).cloud == "aws"]
VLLM = "vllm-openai:v0.27.1@sha256:0a51ea5b4ae2dc5d81890e5173f54203d2a3ae0cfffe51b8fd2afd4391bfd967"


# Custom resources (gateway controller, KEDA, Karpenter, Prometheus Operator): kubernetes-validate ships
# only the core API schemas; these are checked against their vendored CRDs (gpufleet.core.crds) instead.
CRD_GROUPS = ("gateway.networking.k8s.io/", "gateway.envoyproxy.io/", "keda.sh/", "karpenter.sh/", "karpenter.k8s.aws/",
              "monitoring.coreos.com/")


def manifests(stack: str, *, core_only: bool = False) -> list[dict]:
    """The Kubernetes objects the program registered for a stack, as manifests (Helm releases excluded)."""
    objs = [r.inputs for r in cached_preview(stack).resources
            if r.type.startswith("kubernetes:") and "kind" in r.inputs]
    return [o for o in objs if not o["apiVersion"].startswith(CRD_GROUPS)] if core_only else objs


# A Locust image built from this repo's loadtests/ and mirrored into each stack's registry.
LOCUST_IMAGE = "gpufleet-loadtest:0.1.0@sha256:" + "7c1e" * 16


def loadtest_manifests(stack: str) -> list[dict]:
    """The in-cluster Locust master + workers for a stack's main release (load generated in region)."""
    from gpufleet.loadtest.k8s import render_loadtest_manifests
    from gpufleet.core.naming import acr_vpc_host, ecr_host
    cfg = load_stack(stack)
    registry = (f"{acr_vpc_host(stack, cfg.region)}/gpufleet" if cfg.cloud == "alicloud"
                else f"{ecr_host('123456789012', cfg.region)}/gpufleet/{stack}")
    return render_loadtest_manifests("loadtest", f"{registry}/{LOCUST_IMAGE}",
                                     "http://vllm-blue.llm-blue.svc.cluster.local:8000", 4, slo=cfg.slo,
                                     target_namespace="llm-blue", kubernetes_version=cfg.cluster.kubernetes_version,
                                     node_selector={"gpufleet.io/pool": "system"})


def is_model_server(obj: dict) -> bool:
    return obj["metadata"]["labels"].get("app.kubernetes.io/component") == "model-server"


def containers(obj: dict) -> list[dict]:
    spec = obj["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_release_is_deployed_on_the_gpu_pool(stack):
    cfg = load_stack(stack)
    deployments = [m for m in manifests(stack) if m["kind"] == "Deployment" and is_model_server(m)]
    assert sorted(d["metadata"]["namespace"] for d in deployments) == sorted(f"llm-{n}" for n in cfg.releases)
    for d in deployments:
        pod = d["spec"]["template"]["spec"]
        assert pod["nodeSelector"] == {"gpufleet.io/pool": "gpu", "gpufleet.io/gpu-model": cfg.gpu_model}
        assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}]
        name = d["metadata"]["labels"]["gpufleet.io/release"]
        release = cfg.releases[name]
        scaled = [m for m in manifests(stack) if m["kind"] == "ScaledObject"
                  and m["metadata"]["namespace"] == f"llm-{name}"]
        assert not [m for m in manifests(stack) if m["kind"] == "HorizontalPodAutoscaler"]
        if release.effective_min_replicas != release.effective_max_replicas:
            # KEDA owns the replica count; the Deployment leaves it unset
            assert "replicas" not in d["spec"]
            assert (scaled[0]["spec"]["minReplicaCount"], scaled[0]["spec"]["maxReplicaCount"]) == (
                release.effective_min_replicas, release.effective_max_replicas)
        else:
            assert d["spec"]["replicas"] == release.replicas and not scaled
        vllm = pod["containers"][0]
        assert int(vllm["resources"]["limits"]["nvidia.com/gpu"]) >= 1
        assert vllm["readinessProbe"]["httpGet"]["path"] == "/v1/models"
        assert vllm["livenessProbe"]["httpGet"]["path"] == "/health"


@pytest.mark.parametrize("stack", STACKS)
def test_rendered_manifests_pass_strict_schema_of_the_clusters_version(stack):
    version = load_stack(stack).cluster.kubernetes_version
    objects = manifests(stack, core_only=True) + loadtest_manifests(stack)
    assert len(objects) >= 18
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("stack", STACKS)
def test_custom_resources_pass_their_upstream_crd_schema(stack):
    from gpufleet.core.crds import crd_errors, known_kinds
    custom = [m for m in manifests(stack) if (m["apiVersion"], m["kind"]) in known_kinds()]
    assert [m for m in custom if m["kind"] == "ScaledObject"], "every shipped stack autoscales a release"
    for obj in custom:
        assert crd_errors(obj) == [], (obj["kind"], obj["metadata"]["name"])


def test_strict_validation_catches_a_misspelt_field():
    bad = json.loads(json.dumps([m for m in manifests("prod-us-east-1") if m["kind"] == "Service"][0]))
    bad["spec"]["prots"] = bad["spec"].pop("ports")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, "1.35", strict=True)


@pytest.mark.parametrize("stack", CN)
def test_china_load_generators_run_in_region_from_the_stacks_registry(stack):
    acr = f"gpufleet-{stack}-acr-registry-vpc.{load_stack(stack).region}.cr.aliyuncs.com/"
    jobs = [o for o in loadtest_manifests(stack) if o["kind"] == "Job"]
    assert len(jobs) == 2  # master and workers
    assert all(c["image"].startswith(acr) for j in jobs for c in j["spec"]["template"]["spec"]["containers"])


@pytest.mark.parametrize("stack", CN)
def test_china_model_servers_use_only_in_region_sources(stack):
    cfg = load_stack(stack)
    acr = f"gpufleet-{stack}-acr-registry-vpc.{cfg.region}.cr.aliyuncs.com/"
    for d in (m for m in manifests(stack) if m["kind"] == "Deployment"):
        for c in containers(d):
            assert c["image"].startswith(acr), c["image"]
        if not is_model_server(d):  # the moderation proxies: images checked above
            continue
        env = {e["name"]: e.get("value") for e in d["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["HF_HUB_OFFLINE"] == "1" and env["TRANSFORMERS_OFFLINE"] == "1"
        assert env.get("VLLM_USE_MODELSCOPE") == "True"


@pytest.mark.parametrize("stack", AWS)
def test_aws_model_servers_pull_from_ecr_and_read_weights_from_s3_with_irsa(stack):
    cfg = load_stack(stack)
    for d in (m for m in manifests(stack) if m["kind"] == "Deployment"):
        images = [c["image"] for c in containers(d)]
        assert images[-1].startswith(f"123456789012.dkr.ecr.{cfg.region}.amazonaws.com/gpufleet/{stack}/vllm-openai:")
        fetch = " ".join(d["spec"]["template"]["spec"]["initContainers"][0].get("args", []) +
                         d["spec"]["template"]["spec"]["initContainers"][0].get("command", []))
        assert f"s3://gpufleet-{stack}-weights-" in fetch
    accounts = [m for m in manifests(stack) if m["kind"] == "ServiceAccount" and m["metadata"]["name"] == "model-server"]
    assert accounts and all(a["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")
                            for a in accounts)
    assert all(a["automountServiceAccountToken"] is False for a in accounts)


def test_device_plugin_only_where_the_cloud_does_not_install_one():
    for stack in STACKS:
        plugins = [m for m in manifests(stack) if m["kind"] == "DaemonSet"]
        assert len(plugins) == (1 if load_stack(stack).cloud == "aws" else 0), stack


def test_preview_json_includes_kubernetes_resources(capsys):
    from gpufleet.cli import main
    assert main(["preview", "--stack", "prod-cn-beijing", "--json"]) == 0
    types = {r["type"] for r in json.loads(capsys.readouterr().out)["stacks"][0]["resources"]}
    assert {"kubernetes:core/v1:Namespace", "kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Service",
            "kubernetes:policy/v1:PodDisruptionBudget", "kubernetes:keda.sh/v1alpha1:ScaledObject",
            "kubernetes:networking.k8s.io/v1:NetworkPolicy"} <= types


BAD_RELEASES = [
    ("prod-us-east-1", {"gpufleet:releases.blue.model": "Qwen9-1T"},
     "stack 'prod-us-east-1': gpufleet:releases.blue.model: 'Qwen9-1T' is not in the model catalog (allowed: "),
    ("prod-us-east-1", {"gpufleet:releases.blue.model": "Qwen2.5-72B-Instruct"},
     "stack 'prod-us-east-1': gpufleet:releases.blue.model: Qwen2.5-72B-Instruct needs 4 L40S-48GB GPUs per replica at maxModelLen 32768 and gpuMemoryUtilization 0.9, but a GPU node has 1"),
    ("prod-cn-hangzhou", {"gpufleet:releases.blue.image": "docker.io/vllm/" + VLLM},
     "stack 'prod-cn-hangzhou': gpufleet:releases.blue.image: 'docker.io/vllm/" + VLLM + "' is not from the stack's ACR registry 'gpufleet-prod-cn-hangzhou-acr-registry-vpc.cn-hangzhou.cr.aliyuncs.com' (China stacks pull images only from their own registry)"),
    ("prod-cn-hangzhou", {"gpufleet:releases.blue.image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/" + VLLM},
     "stack 'prod-cn-hangzhou': gpufleet:releases.blue.image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/" + VLLM + "' is not from the stack's ACR registry 'gpufleet-prod-cn-hangzhou-acr-registry-vpc.cn-hangzhou.cr.aliyuncs.com' (China stacks pull images only from their own registry)"),
    ("prod-cn-hangzhou", {"gpufleet:releases.blue.weightsSource": "huggingface"},
     "stack 'prod-cn-hangzhou': gpufleet:releases.blue.weightsSource: 'huggingface' is not reachable from mainland China stacks (allowed: bucket, modelscope)"),
    ("prod-cn-hangzhou", {"gpufleet:releases.blue.weightsSource": "bucket"},
     "stack 'prod-cn-hangzhou': gpufleet:weightsFetcherImage: is required on alicloud when a release loads weights from OSS (release 'blue'): an image with ossutil 2.x in the stack's ACR, pinned by digest"),
    ("prod-ap-northeast-1", {"gpufleet:releases.blue.replicas": 11, "gpufleet:releases.blue.maxReplicas": 11},
     "stack 'prod-ap-northeast-1': gpufleet:releases.blue.replicas: "),
    ("prod-us-east-1", {"gpufleet:releases": {}},
     "stack 'prod-us-east-1': gpufleet:releases: needs at least one release (a name mapped to model, image, replicas)"),
    ("prod-us-east-1", {"gpufleet:releases.blue.image": "vllm-openai:latest"},
     "stack 'prod-us-east-1': gpufleet:releases.blue.image: 'vllm-openai:latest' must be pinned by tag and digest (registry/repository:tag@sha256:<64 hex>)"),
]


@pytest.mark.parametrize("stack,changes,message", BAD_RELEASES)
def test_bad_release_is_rejected_before_anything_is_registered(stack, changes, message):
    p = preview_stack(stack, text=edited_stack(stack, changes))
    assert p.ok is False and p.resources == []
    assert p.error.startswith(message), p.error
    assert "\n" not in p.error


@pytest.mark.slow
def test_checkov_passes_every_stacks_manifests(tmp_path):
    for stack in STACKS:
        (tmp_path / f"{stack}.yaml").write_text(yaml.safe_dump_all(manifests(stack), sort_keys=False))
        (tmp_path / f"{stack}-loadtest.yaml").write_text(yaml.safe_dump_all(loadtest_manifests(stack), sort_keys=False))
    proc = subprocess.run([str(ROOT / "scripts" / "checkov.sh"), "-d", str(tmp_path), "--framework", "kubernetes",
                           "-o", "json"], capture_output=True, text=True, timeout=1800)
    report = json.loads(proc.stdout)
    failed = [(c["check_id"], c["resource"], c["file_path"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    assert report["summary"]["parsing_errors"] == 0
    skipped = {c["check_id"] for c in report["results"]["skipped_checks"]}
    # the only skips are the device plugin's, written in its manifest with reasons
    assert skipped <= {"CKV_K8S_8", "CKV_K8S_9", "CKV_K8S_23", "CKV_K8S_40"}
    assert all(c["resource"].startswith("DaemonSet.nvidia-device-plugin") for c in report["results"]["skipped_checks"])
