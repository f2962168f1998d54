"""In-region load-test manifests: schema-valid for Kubernetes 1.33, hardened, complete."""

from __future__ import annotations

import shlex
import subprocess
import sys

import kubernetes_validate
import pytest
import yaml

from gpufleet.loadtest.k8s import render_loadtest_manifests, scenario_files
from gpufleet.core.slo import SloSpec

SLO = SloSpec(workload="chinese_chat", target_rate=4, duration_s=120, warmup_s=15, ttft_p95_ms=800,
              min_samples=300)
IMAGE = "registry.cn-beijing.aliyuncs.com/gpufleet/gpufleet:0.1.0"


@pytest.fixture(scope="module")
def objects():
    return render_loadtest_manifests("loadtest", IMAGE, "http://vllm-main.llm.svc:8000", 3, slo=SLO,
                                     target_namespace="llm", run_id="run42")


def by_kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def test_every_object_validates_strictly_against_kubernetes_1_33(objects):
    assert [o["kind"] for o in objects] == ["Namespace", "ServiceAccount", "ConfigMap", "Service", "Job", "Job",
                                            "NetworkPolicy", "NetworkPolicy", "NetworkPolicy", "NetworkPolicy"]
    for obj in objects:
        assert kubernetes_validate.validate(obj, "1.33", strict=True) == "1.33"


def test_pods_are_restricted(objects):
    assert by_kind(objects, "Namespace")[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for job in by_kind(objects, "Job"):
        pod = job["spec"]["template"]["spec"]
        assert job["spec"]["backoffLimit"] == 0 and pod["restartPolicy"] == "Never"
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in pod["containers"]:
            assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                                    "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}
            assert set(container["resources"]["limits"]) == {"cpu", "memory"}


def test_master_and_workers(objects):
    master, workers = by_kind(objects, "Job")
    assert (workers["spec"]["parallelism"], workers["spec"]["completions"]) == (3, 3)
    worker = workers["spec"]["template"]["spec"]["containers"][0]
    assert worker["command"] == ["python", "-m", "locust", "-f", "/opt/loadtests/chinese_chat.py", "--worker",
                                 "--master-host", "gpufleet-loadtest-master", "--master-port", "5557"]
    assert worker["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}
    container = master["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["tcpSocket"] == {"port": "locust"}
    locust_line, judge_line = container["command"][2].strip().split("\n")
    args = shlex.split(locust_line)
    assert args[:5] == ["python", "-m", "locust", "-f", "/opt/loadtests/chinese_chat.py"]
    assert args[args.index("--host") + 1] == "http://vllm-main.llm.svc:8000"
    assert args[-5:] == ["--master", "--expect-workers", "3", "--expect-workers-max-wait", "600"]
    assert args[args.index("--gpufleet-rate") + 1] == "4.0" and args[args.index("--gpufleet-dispatchers") + 1] == "3"
    assert args[args.index("--gpufleet-run-id") + 1] == "run42"
    assert shlex.split(judge_line) == ["exec", "python", "-m", "gpufleet.cli", "loadtest", "--from-run",
                                       "/results/run.json", "--slo", "/opt/slo/slo.yaml", "--json-line", "--quiet"]
    service = by_kind(objects, "Service")[0]
    assert service["spec"]["selector"].items() <= master["spec"]["template"]["metadata"]["labels"].items()


def test_an_api_key_comes_from_a_secret_never_from_the_manifest():
    objects = render_loadtest_manifests("loadtest", IMAGE, "https://vllm.llm.svc", 2, slo=SLO, target_namespace="llm",
                                        api_key_secret="vllm-api-key")
    for job in by_kind(objects, "Job"):
        env = job["spec"]["template"]["spec"]["containers"][0]["env"]
        assert env[-1] == {"name": "GPUFLEET_API_KEY",
                           "valueFrom": {"secretKeyRef": {"name": "vllm-api-key", "key": "api-key"}}}
        kubernetes_validate.validate(job, "1.33", strict=True)
    egress = next(p for p in by_kind(objects, "NetworkPolicy") if p["metadata"]["name"].endswith("workers-egress"))
    assert egress["spec"]["egress"][1]["ports"] == [{"protocol": "TCP", "port": 443}]


def test_network_policies_open_only_master_and_target(objects):
    policies = {p["metadata"]["name"]: p["spec"] for p in by_kind(objects, "NetworkPolicy")}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    egress = policies["gpufleet-loadtest-workers-egress"]["egress"]
    assert egress[1] == {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "llm"}}}],
                         "ports": [{"protocol": "TCP", "port": 8000}]}


def test_the_configmap_carries_the_whole_scenario_and_the_slo(objects, tmp_path):
    configmap = by_kind(objects, "ConfigMap")[0]
    pod = by_kind(objects, "Job")[0]["spec"]["template"]["spec"]
    items = next(v for v in pod["volumes"] if v["name"] == "scenario")["configMap"]["items"]
    assert sorted(i["path"] for i in items) == sorted(scenario_files())
    assert {"chat.py", "common/__init__.py", "common/users.py", "prompts/zh_passages.txt", "workloads.yaml"} <= {
        i["path"] for i in items}
    slo = yaml.safe_load(configmap["data"]["slo.yaml"])["gpufleet:slo"]
    assert SloSpec.model_validate(slo) == SLO
    for item in items:  # lay the volume out as the kubelet would, then load the scenario from it
        path = tmp_path / item["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(configmap["data"][item["key"]], encoding="utf-8")
    probe = ("import random, chinese_chat; from common.workload import load_catalog; "
             "print(chinese_chat.ChineseChatUser.workload, load_catalog().sampler('chinese_chat', 'm', "
             "random.Random(0)).next().input_tokens > 0)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)},
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "chinese_chat True", out.stderr


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match=r"^workers must be at least 1, got 0$"):
        render_loadtest_manifests("loadtest", IMAGE, "http://vllm.llm.svc:8000", 0, slo=SLO, target_namespace="llm")
    with pytest.raises(ValueError, match=r"^target must be an http\(s\) URL"):
        render_loadtest_manifests("loadtest", IMAGE, "vllm.llm.svc:8000", 1, slo=SLO, target_namespace="llm")
