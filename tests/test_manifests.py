"""Rendered model-server manifests: schema-valid for Kubernetes 1.33 and shaped as intended.

`CASES` and `make_params` are also used by test_checkov.py and test_model_server.py:
they build render params the way the Pulumi program does (Release -> validate ->
resolve -> params) for AWS and Alibaba stacks, small and 72B models.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import kubernetes_validate
import pytest

from gpufleet.core.crds import crd_errors
from gpufleet.core.manifests import (
    ReleaseRenderParams,
    WeightsFetcher,
    default_resources,
    render_release,
    rollout_seconds,
    startup_budget_seconds,
    weights_source_url,
)
from gpufleet.core.model_catalog import load_model_catalog
from gpufleet.core.release_config import Release, ResourceOverrides, resolve_release, scaling_plan, validate_releases

K8S_VERSION = "1.33"
DIGEST = "sha256:" + "5f3c9a1e7b2d4c6e" * 4
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
ACR = "gpufleet-prod-cn-acr-registry-vpc.cn-hangzhou.cr.aliyuncs.com"
GPU_TOLERATIONS = [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}]


@dataclass(frozen=True)
class Case:
    cloud: str
    jurisdiction: str
    region: str
    gpu_model: str
    gpus_per_node: int
    node_vcpu: int
    node_memory_gib: int
    max_nodes: int
    registry: str
    release: Release


def _release(image_host: str, **fields: Any) -> Release:
    return Release.model_validate({"image": f"{image_host}/vllm/vllm-openai:v0.9.2@{DIGEST}", **fields})


CASES: dict[str, Case] = {
    # g5.xlarge, 7B from S3, autoscaled 1..4
    "aws-7b": Case("aws", "global", "us-east-1", "A10G-24GB", 1, 4, 16, 4, ECR,
                   _release("docker.io", model="Qwen2.5-7B-Instruct", replicas=1, maxReplicas=4)),
    # p4d.24xlarge, 72B from S3 on 8 x A100-40GB, fixed 2 replicas
    "aws-72b": Case("aws", "global", "us-west-2", "A100-40GB", 8, 96, 1152, 2, ECR,
                    _release("docker.io", model="Qwen2.5-72B-Instruct", replicas=2)),
    # p5.48xlarge, Qwen3-32B straight from Hugging Face (explicitly configured)
    "aws-hf": Case("aws", "global", "us-east-1", "H100-80GB", 8, 192, 2048, 1, ECR,
                   _release(ECR, model="Qwen3-32B", weightsSource="huggingface", servedModelName="qwen3")),
    # ecs.gn7i-c8g1.2xlarge, 7B from ModelScope, China
    "cn-7b": Case("alicloud", "cn", "cn-hangzhou", "A10-24GB", 1, 8, 30, 3, ACR,
                  _release(ACR, model="Qwen2.5-7B-Instruct", weightsSource="modelscope", replicas=2, minReplicas=1,
                           maxReplicas=3)),
    # ecs.gn7e-c16g1.16xlarge, 72B from OSS on 4 x A100-80GB, China
    "cn-72b": Case("alicloud", "cn", "cn-hangzhou", "A100-80GB", 4, 64, 500, 2, ACR,
                   _release(ACR, model="Qwen2.5-72B-Instruct", maxReplicas=2, resources={"memory": "300Gi"})),
    # ecs.gn6i-c4g1.xlarge: one T4 (no bf16) serves the 3B model in fp16
    "cn-t4": Case("alicloud", "cn", "cn-hangzhou", "T4-16GB", 1, 4, 15, 2, ACR,
                  _release(ACR, model="Qwen2.5-3B-Instruct", maxModelLen=8192)),
}


def make_params(case: Case, release_name: str = "blue") -> ReleaseRenderParams:
    """What the Pulumi program does with one configured release."""
    validate_releases(
        {release_name: case.release},
        stack_cloud=case.cloud,
        jurisdiction=case.jurisdiction,
        region=case.region,
        gpu_model=case.gpu_model,
        gpus_per_node=case.gpus_per_node,
        gpu_pool_max_nodes=case.max_nodes,
        registry_host=case.registry,
    )
    resolved = resolve_release(release_name, case.release, gpu_model=case.gpu_model)
    r = case.release
    bucket = "s3://gpufleet-prod-us-weights" if case.cloud == "aws" else "oss://gpufleet-prod-cn-weights-1234"
    fetcher_image = (
        f"public.ecr.aws/aws-cli/aws-cli:2.17.50@{DIGEST}" if case.cloud == "aws" else f"{ACR}/gpufleet/ossutil:2.1.0@{DIGEST}"
    )
    return ReleaseRenderParams(
        stack="prod-us" if case.cloud == "aws" else "prod-cn",
        team="ml-platform",
        cloud=case.cloud,  # type: ignore[arg-type]
        jurisdiction=case.jurisdiction,  # type: ignore[arg-type]
        namespace=f"llm-{release_name}",
        release=release_name,
        model=resolved.model,
        image=r.image,
        weights_source=r.weights_source,
        weights_source_url=weights_source_url(r.weights_source, bucket_url=bucket, model=resolved.model),
        tensor_parallel_size=resolved.tensor_parallel_size,
        max_model_len=resolved.max_model_len,
        gpu_memory_utilization=r.gpu_memory_utilization,
        served_model_name=r.served_model_name or r.model.lower(),
        replicas=r.replicas,
        min_replicas=r.effective_min_replicas,
        max_replicas=r.effective_max_replicas,
        scaling=scaling_plan(release_name, r, weights_gb=resolved.model.weights_gb, ttft_objective_s=0.8),
        gpu_node_selector={"gpufleet.io/pool": "gpu", "gpufleet.io/gpu-model": case.gpu_model},
        gpu_tolerations=GPU_TOLERATIONS,
        resources=default_resources(
            tensor_parallel_size=resolved.tensor_parallel_size,
            gpus_per_node=case.gpus_per_node,
            node_vcpu=case.node_vcpu,
            node_memory_gib=case.node_memory_gib,
            overrides=r.resources,
        ),
        kubernetes_version=K8S_VERSION,
        dtype=resolved.dtype,
        weights_fetcher=WeightsFetcher(
            image=fetcher_image, env={} if case.cloud == "aws" else {"OSS_REGION": case.region}
        ),
        service_account_annotations={"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/weights-reader"}
        if case.cloud == "aws"
        else {"pod-identity.alibabacloud.com/role-name": "gpufleet-prod-cn-weights-reader"},
        namespace_labels={} if case.cloud == "aws" else {"pod-identity.alibabacloud.com/injection": "on"},
    )


def rendered(case: str) -> dict[str, dict[str, Any]]:
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in render_release(make_params(CASES[case]))}


def deployment(case: str) -> dict[str, Any]:
    return rendered(case)["Deployment/vllm-blue"]


def container(case: str, name: str = "vllm") -> dict[str, Any]:
    spec = deployment(case)["spec"]["template"]["spec"]
    return next(c for c in spec["containers"] + spec.get("initContainers", []) if c["name"] == name)


def env(case: str) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(case)["env"]}


# --------------------------------------------------------------------------- schema


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_object_validates_strictly_for_kubernetes_1_33(case: str):
    """Core objects against the cluster's OpenAPI schema; custom resources against their upstream CRD."""
    for obj in render_release(make_params(CASES[case])):
        if obj["apiVersion"].startswith("keda.sh/"):
            assert crd_errors(obj) == []
        else:
            assert kubernetes_validate.validate(obj, K8S_VERSION, strict=True) == "1.33"


def test_strict_validation_rejects_a_misspelt_field():
    obj = deployment("aws-7b")
    obj["spec"]["template"]["spec"]["containers"][0]["startupprobe"] = obj["spec"]["template"]["spec"]["containers"][
        0
    ].pop("startupProbe")
    with pytest.raises(kubernetes_validate.ValidationError) as caught:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    assert caught.value.message == "Additional properties are not allowed ('startupprobe' was unexpected)"


# --------------------------------------------------------------------------- object set


def test_object_set_and_order():
    assert list(rendered("aws-7b")) == [
        "Namespace/llm-blue",
        "ServiceAccount/model-server",
        "Deployment/vllm-blue",
        "Service/vllm-blue",
        "PodDisruptionBudget/vllm-blue",
        "NetworkPolicy/default-deny",
        "NetworkPolicy/vllm-blue-allow-serving",
        "NetworkPolicy/vllm-blue-allow-dns",
        "NetworkPolicy/vllm-blue-allow-https-egress",
        "ScaledObject/vllm-blue",
    ]


def test_fixed_replica_releases_have_no_autoscaler_and_set_replicas():
    objs = rendered("aws-72b")
    assert not [k for k in objs if k.startswith(("ScaledObject/", "HorizontalPodAutoscaler/"))]
    assert objs["Deployment/vllm-blue"]["spec"]["replicas"] == 2


def test_autoscaled_releases_leave_replicas_to_keda_on_llm_signals():
    objs = rendered("cn-7b")
    assert "replicas" not in objs["Deployment/vllm-blue"]["spec"]
    assert not [k for k in objs if k.startswith("HorizontalPodAutoscaler/")]  # KEDA owns the HPA it creates
    spec = objs["ScaledObject/vllm-blue"]["spec"]
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (1, 3)
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "vllm-blue"}
    assert spec["fallback"] == {"failureThreshold": 3, "replicas": 2}
    queries = {t["name"]: (t["metadata"]["query"], t["metadata"]["threshold"]) for t in spec["triggers"]}
    assert queries["queue"] == ('sum(vllm:num_requests_waiting{namespace="llm-blue"})', "4")
    assert queries["kv_cache"] == ('sum(vllm:kv_cache_usage_perc{namespace="llm-blue"})', "0.8")
    assert "/ 0.8) * scalar(count(vllm:num_requests_running" in queries["ttft"][0]
    assert {t["metricType"] for t in spec["triggers"]} == {"AverageValue"}
    # 7B (15.23 GB) from ModelScope: 240 + ceil(15.23 x 35) = 774 s cold start sizes the windows.
    behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 1548
    assert behavior["scaleUp"]["policies"][0] == {"type": "Percent", "value": 100, "periodSeconds": 774}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_object_carries_the_cost_labels(case: str):
    for obj in render_release(make_params(CASES[case])):
        labels = obj["metadata"]["labels"]
        assert labels["gpufleet.io/team"] == "ml-platform"
        assert labels["gpufleet.io/release"] == "blue"
        assert labels["gpufleet.io/model"] == CASES[case].release.model
        assert labels["gpufleet.io/stack"] in ("prod-us", "prod-cn")
        assert labels["app.kubernetes.io/name"] == "vllm"
        assert labels["app.kubernetes.io/instance"] == "blue"
        assert labels["app.kubernetes.io/part-of"] == "gpufleet"
        assert labels["app.kubernetes.io/version"] == "v0.9.2"


def test_objects_do_not_share_mutable_dicts():
    objs = render_release(make_params(CASES["aws-7b"]))
    objs[0]["metadata"]["labels"]["x"] = "y"
    assert "x" not in objs[1]["metadata"]["labels"]


# --------------------------------------------------------------------------- namespace and identity


def test_namespace_enforces_restricted_pod_security():
    labels = rendered("aws-7b")["Namespace/llm-blue"]["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert labels[f"pod-security.kubernetes.io/{mode}-version"] == "v1.33"
    assert "pod-identity.alibabacloud.com/injection" not in labels


def test_alibaba_namespace_opts_into_rrsa_injection():
    labels = rendered("cn-72b")["Namespace/llm-blue"]["metadata"]["labels"]
    assert labels["pod-identity.alibabacloud.com/injection"] == "on"
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_service_account_mounts_no_token_and_carries_cloud_identity():
    aws_sa = rendered("aws-7b")["ServiceAccount/model-server"]
    assert aws_sa["automountServiceAccountToken"] is False
    assert aws_sa["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/weights-reader"
    }
    pod = deployment("aws-7b")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "model-server"


def test_no_annotations_key_when_there_are_none():
    params = replace(make_params(CASES["aws-7b"]), service_account_annotations={})
    sa = next(o for o in render_release(params) if o["kind"] == "ServiceAccount")
    assert "annotations" not in sa["metadata"]


# --------------------------------------------------------------------------- the vLLM container


def test_vllm_arguments_from_the_release():
    c = container("aws-7b")
    assert c["command"] == ["vllm", "serve"]
    assert c["args"] == [
        "/models/Qwen2.5-7B-Instruct",
        "--host=0.0.0.0",
        "--port=8000",
        "--served-model-name=qwen2.5-7b-instruct",
        "--tensor-parallel-size=1",
        "--max-model-len=32768",
        "--gpu-memory-utilization=0.9",
    ]
    assert c["image"] == f"docker.io/vllm/vllm-openai:v0.9.2@{DIGEST}"
    assert c["imagePullPolicy"] == "Always"


def test_modelscope_release_downloads_in_process():
    c = container("cn-7b")
    assert c["args"][0] == "Qwen/Qwen2.5-7B-Instruct"
    assert "--download-dir=/models/hub" in c["args"]
    e = env("cn-7b")
    assert e["VLLM_USE_MODELSCOPE"] == "True"
    assert e["MODELSCOPE_CACHE"] == "/models/modelscope"
    assert (e["HF_HUB_OFFLINE"], e["TRANSFORMERS_OFFLINE"]) == ("1", "1")
    assert "initContainers" not in deployment("cn-7b")["spec"]["template"]["spec"]


def test_hugging_face_release_is_online_and_has_no_fetcher():
    c = container("aws-hf")
    assert c["args"][0] == "Qwen/Qwen3-32B"
    assert "--served-model-name=qwen3" in c["args"]
    e = env("aws-hf")
    assert "HF_HUB_OFFLINE" not in e and "VLLM_USE_MODELSCOPE" not in e
    assert "initContainers" not in deployment("aws-hf")["spec"]["template"]["spec"]


def test_china_bucket_release_is_offline():
    e = env("cn-72b")
    assert (e["HF_HUB_OFFLINE"], e["TRANSFORMERS_OFFLINE"]) == ("1", "1")
    assert "VLLM_USE_MODELSCOPE" not in e


def test_t4_serves_fp16():
    args = container("cn-t4")["args"]
    assert "--dtype=half" in args and "--max-model-len=8192" in args
    assert "--dtype=half" not in container("cn-72b")["args"]


@pytest.mark.parametrize(("case", "gpus"), [("aws-7b", 1), ("aws-72b", 8), ("aws-hf", 1), ("cn-7b", 1), ("cn-72b", 4)])
def test_gpu_limit_is_the_tensor_parallel_size(case: str, gpus: int):
    c = container(case)
    assert c["resources"]["limits"]["nvidia.com/gpu"] == gpus
    assert f"--tensor-parallel-size={gpus}" in c["args"]


def test_cpu_and_memory_are_the_node_share():
    # g5.xlarge: 4 vCPU / 16 GiB, one GPU
    assert container("aws-7b")["resources"] == {
        "requests": {"cpu": "3000m", "memory": "12Gi", "ephemeral-storage": "51Gi"},
        "limits": {"cpu": "4000m", "memory": "14Gi", "nvidia.com/gpu": 1},
    }
    # gn7e-c16g1.16xlarge: 64 vCPU / 500 GiB, 4 GPUs, all taken; memory request overridden
    assert container("cn-72b")["resources"] == {
        "requests": {"cpu": "48000m", "memory": "300Gi", "ephemeral-storage": "184Gi"},
        "limits": {"cpu": "64000m", "memory": "450Gi", "nvidia.com/gpu": 4},
    }


def test_default_resources_share_and_overrides():
    assert default_resources(tensor_parallel_size=2, gpus_per_node=4, node_vcpu=48, node_memory_gib=192) == (
        default_resources(tensor_parallel_size=1, gpus_per_node=2, node_vcpu=48, node_memory_gib=192)
    )
    r = default_resources(
        tensor_parallel_size=1,
        gpus_per_node=1,
        node_vcpu=4,
        node_memory_gib=15,
        overrides=ResourceOverrides(cpu="2", cpu_limit="3500m"),
    )
    assert (r.cpu_request, r.cpu_limit, r.memory_request, r.memory_limit) == ("2", "3500m", "11Gi", "13Gi")


def test_gpu_pool_scheduling():
    pod = deployment("cn-72b")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"gpufleet.io/pool": "gpu", "gpufleet.io/gpu-model": "A100-80GB"}
    assert pod["tolerations"] == GPU_TOLERATIONS


def test_probes():
    c = container("aws-7b")
    assert c["readinessProbe"]["httpGet"] == {"path": "/v1/models", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert c["startupProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    # 7B: the 10 minute floor
    assert c["startupProbe"]["periodSeconds"] * c["startupProbe"]["failureThreshold"] == 600


@pytest.mark.parametrize("case", ["aws-72b", "cn-72b"])
def test_startup_probe_tolerates_a_72b_load(case: str):
    probe = container(case)["startupProbe"]
    # 145.41 GB x 15 s/GB = 2182 s -> 219 periods of 10 s (36.5 minutes)
    assert (probe["periodSeconds"], probe["failureThreshold"]) == (10, 219)
    assert probe["periodSeconds"] * probe["failureThreshold"] >= 30 * 60


def test_startup_budget_and_rollout_deadline():
    assert startup_budget_seconds(15.23, downloads_in_process=False) == 600
    assert startup_budget_seconds(145.41, downloads_in_process=False) == 2182
    assert startup_budget_seconds(65.52, downloads_in_process=True) == 2294  # 35 s/GB
    # bucket copy 145.41 x 5 = 728 s + 2182 s + 300 s
    assert rollout_seconds(make_params(CASES["aws-72b"])) == 3210
    assert deployment("aws-72b")["spec"]["progressDeadlineSeconds"] == 3210


def test_pod_and_container_hardening():
    pod = deployment("aws-7b")["spec"]["template"]["spec"]
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    for c in pod["containers"] + pod["initContainers"]:
        assert c["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        }
    # A read-only root needs every cache somewhere writable.
    e = env("aws-7b")
    assert e["HOME"] == "/cache" and e["VLLM_CACHE_ROOT"] == "/cache/vllm" and e["USER"] == "vllm"


def test_volumes():
    volumes = {v["name"]: v for v in deployment("aws-72b")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["dshm"] == {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}}
    # 135.4 GiB x 1.1 -> 149 + 5
    assert volumes["models"] == {"name": "models", "emptyDir": {"sizeLimit": "154Gi"}}
    assert deployment("aws-7b")["spec"]["template"]["spec"]["volumes"][3]["emptyDir"]["sizeLimit"] == "2Gi"


def test_rollout_never_surges():
    assert deployment("aws-7b")["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
    }


# --------------------------------------------------------------------------- weights fetch


def test_s3_fetcher():
    c = container("aws-72b", "fetch-weights")
    assert c["command"] == [
        "aws",
        "s3",
        "sync",
        "--only-show-errors",
        "--no-progress",
        "s3://gpufleet-prod-us-weights/models/Qwen2.5-72B-Instruct/",
        "/models/Qwen2.5-72B-Instruct/",
    ]
    assert c["image"] == f"public.ecr.aws/aws-cli/aws-cli:2.17.50@{DIGEST}"
    assert c["env"] == [{"name": "HOME", "value": "/cache"}]


def test_oss_fetcher():
    c = container("cn-72b", "fetch-weights")
    assert c["command"] == [
        "ossutil",
        "cp",
        "--recursive",
        "--update",
        "oss://gpufleet-prod-cn-weights-1234/models/Qwen2.5-72B-Instruct/",
        "/models/Qwen2.5-72B-Instruct/",
    ]
    assert c["env"] == [{"name": "HOME", "value": "/cache"}, {"name": "OSS_REGION", "value": "cn-hangzhou"}]


def test_fetcher_command_override():
    params = make_params(CASES["cn-72b"])
    params = replace(params, weights_fetcher=replace(params.weights_fetcher, command=("fetch", "--all")))
    dep = next(o for o in render_release(params) if o["kind"] == "Deployment")
    assert dep["spec"]["template"]["spec"]["initContainers"][0]["command"] == ["fetch", "--all"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"weights_fetcher": None}, "bucket weights need weights_source_url and weights_fetcher"),
        ({"weights_source_url": "oss://b/models/x"}, "aws bucket URL must start with s3:// (got 'oss://b/models/x')"),
        ({"namespace": "LLM"}, "'LLM' is not a DNS-1123 label"),
        ({"monitoring_namespace": "kube_prometheus"}, "'kube_prometheus' is not a DNS-1123 label"),
        ({"cloud": "gcp"}, "unknown cloud 'gcp' (allowed: aws, alicloud)"),
        ({"kubernetes_version": "v2"}, "kubernetes_version 'v2' is not like '1.33'"),
        ({"min_replicas": 3}, "need 1 <= min_replicas <= replicas <= max_replicas (got 3, 1, 4)"),
    ],
)
def test_render_params_reject_inconsistent_values(changes: dict[str, Any], message: str):
    with pytest.raises(ValueError) as caught:
        replace(make_params(CASES["aws-7b"]), **changes)
    assert str(caught.value) == message


def test_late_bound_bucket_url_is_accepted():
    params = replace(make_params(CASES["aws-7b"]), weights_source_url="{{weights_bucket_url}}/models/Qwen2.5-7B-Instruct")
    fetch = render_release(params)[2]["spec"]["template"]["spec"]["initContainers"][0]
    assert fetch["command"][-2] == "{{weights_bucket_url}}/models/Qwen2.5-7B-Instruct/"


def test_weights_source_url():
    entry = load_model_catalog().model("Qwen3-8B")
    assert weights_source_url("bucket", bucket_url="s3://b/", model=entry) == "s3://b/models/Qwen3-8B"
    assert weights_source_url("modelscope", bucket_url="oss://b", model=entry) is None


# --------------------------------------------------------------------------- service, PDB, network


def test_service_and_pdb():
    objs = rendered("aws-7b")
    svc = objs["Service/vllm-blue"]["spec"]
    assert svc == {
        "type": "ClusterIP",
        "selector": {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": "blue"},
        "ports": [{"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}],
    }
    pdb = objs["PodDisruptionBudget/vllm-blue"]["spec"]
    assert pdb["maxUnavailable"] == 1 and pdb["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    assert pdb["selector"]["matchLabels"] == svc["selector"]


def test_network_policies():
    objs = rendered("aws-7b")
    deny = objs["NetworkPolicy/default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    serving = objs["NetworkPolicy/vllm-blue-allow-serving"]["spec"]
    assert serving["ingress"] == [
        {
            "from": [
                {
                    "namespaceSelector": {
                        "matchExpressions": [
                            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["gateway", "monitoring"]}
                        ]
                    }
                }
            ],
            "ports": [{"protocol": "TCP", "port": 8000}],
        }
    ]
    dns = objs["NetworkPolicy/vllm-blue-allow-dns"]["spec"]["egress"][0]
    assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert [p["port"] for p in dns["ports"]] == [53, 53]
    https = objs["NetworkPolicy/vllm-blue-allow-https-egress"]["spec"]["egress"]
    assert https == [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 443}]}]


def test_narrowed_egress_and_extra_client_namespaces():
    params = replace(
        make_params(CASES["aws-7b"]), egress_cidrs=("52.216.0.0/15", "3.5.0.0/19"), client_namespaces=("gateway", "ingress")
    )
    objs = {f"{o['kind']}/{o['metadata']['name']}": o for o in render_release(params)}
    https = objs["NetworkPolicy/vllm-blue-allow-https-egress"]["spec"]["egress"][0]["to"]
    assert https == [{"ipBlock": {"cidr": "52.216.0.0/15"}}, {"ipBlock": {"cidr": "3.5.0.0/19"}}]
    serving = objs["NetworkPolicy/vllm-blue-allow-serving"]["spec"]["ingress"][0]["from"][0]
    assert serving["namespaceSelector"]["matchExpressions"][0]["values"] == ["gateway", "ingress", "monitoring"]


def test_every_image_is_pinned_by_digest():
    for case in CASES:
        pod = deployment(case)["spec"]["template"]["spec"]
        for c in pod["containers"] + pod.get("initContainers", []):
            assert "@sha256:" in c["image"], (case, c["name"])
