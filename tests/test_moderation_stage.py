"""The moderation stage as a stack builds it: in the request path of every public cn route, valid
manifests, RRSA and SLS wiring, config errors, and the policy that fails a stage declared but not wired."""

from __future__ import annotations

import copy
import json

import kubernetes_validate
import pytest

from conftest import cached_preview, edited_stack, shipped_stacks
from gpufleet.core.config import load_stack
from gpufleet.core.crds import crd_errors
from gpufleet.core.errors import StackConfigError
from gpufleet.core.moderation_stage import role_name
from gpufleet.policy_runner import run_policies
from gpufleet.preview.engine import preview_stack

CN_PUBLIC = [s for s in shipped_stacks() if load_stack(s).jurisdiction == "cn" and load_stack(s).compliance.public_endpoint]
GLOBAL = [s for s in shipped_stacks() if load_stack(s).jurisdiction != "cn"]
POLICY = "cn-moderation-in-request-path"


def objects(stack: str, kind: str | None = None) -> list[dict]:
    objs = [r.inputs for r in cached_preview(stack).resources if r.type.startswith("kubernetes:") and "kind" in r.inputs]
    return [o for o in objs if kind is None or o["kind"] == kind]


def test_both_china_stacks_are_public():
    assert sorted(CN_PUBLIC) == ["prod-cn-beijing", "prod-cn-hangzhou"]


@pytest.mark.parametrize("stack", CN_PUBLIC)
def test_every_route_backend_of_a_public_cn_stack_is_its_moderation_proxy(stack):
    (route,) = objects(stack, "HTTPRoute")
    refs = [ref for rule in route["spec"]["rules"] for ref in rule["backendRefs"]]
    assert refs and {r["name"] for r in refs} == {f"moderation-{n}" for n in load_stack(stack).releases}
    assert all(r["namespace"] == f"llm-{r['name'].removeprefix('moderation-')}" and r["port"] == 8000 for r in refs)
    grants = objects(stack, "ReferenceGrant")
    assert sorted(g["spec"]["to"][0]["name"] for g in grants) == sorted(r["name"] for r in refs[-len(grants):])
    assert crd_errors(route) == []


@pytest.mark.parametrize("stack", CN_PUBLIC)
def test_proxies_run_restricted_from_the_stacks_acr_and_screen_both_ways(stack):
    cfg = load_stack(stack)
    acr = f"gpufleet-{stack}-acr-registry-vpc.{cfg.region}.cr.aliyuncs.com/gpufleet/gpufleet-moderation:0.1.0@sha256:"
    proxies = [d for d in objects(stack, "Deployment") if d["metadata"]["labels"]["app.kubernetes.io/component"] == "moderation"]
    assert sorted(d["metadata"]["namespace"] for d in proxies) == sorted(f"llm-{n}" for n in cfg.releases)
    for d in proxies:
        pod = d["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        assert c["image"].startswith(acr)
        args = c["args"]
        assert args[args.index("--provider") + 1] == "aliyun-green"
        assert args[args.index("--endpoint") + 1] == cfg.compliance.moderation.endpoint
        assert "--check-prompts" in args and "--check-outputs" in args and "--no-fail-open" in args
        release = d["metadata"]["labels"]["gpufleet.io/release"]
        assert args[args.index("--upstream") + 1] == f"http://vllm-{release}.llm-{release}.svc.cluster.local:8000"
        assert pod["nodeSelector"] == {"gpufleet.io/pool": "system"} and pod["automountServiceAccountToken"] is False
        assert c["securityContext"]["readOnlyRootFilesystem"] and c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert {"name": "ALIBABA_CLOUD_ECS_METADATA_DISABLED", "value": "true"} in c["env"]
        assert not any("KEY" in e["name"] or "SECRET" in e["name"] for e in c["env"])
    sas = [s for s in objects(stack, "ServiceAccount") if s["metadata"]["name"] == "moderation-proxy"]
    assert {s["metadata"]["annotations"]["pod-identity.alibabacloud.com/role-name"] for s in sas} == {role_name(stack)}


@pytest.mark.parametrize("stack", CN_PUBLIC)
def test_model_servers_admit_only_the_proxy_not_the_gateway(stack):
    for np in objects(stack, "NetworkPolicy"):
        if np["metadata"]["name"].endswith("-allow-serving"):
            values = np["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchExpressions"][0]["values"]
            assert "gateway" not in values
    to_vllm = [np for np in objects(stack, "NetworkPolicy") if np["metadata"]["name"].endswith("-to-vllm")]
    assert len(to_vllm) == len(load_stack(stack).releases)


@pytest.mark.parametrize("stack", CN_PUBLIC)
def test_rrsa_role_may_only_call_text_moderation_and_decisions_stay_184_days(stack):
    res = cached_preview(stack).resources
    (policy,) = [r for r in res if r.type == "alicloud:ram/policy:Policy" and "green" in r.inputs["policyName"]]
    assert json.loads(policy.inputs["policyDocument"])["Statement"] == [
        {"Action": ["yundun-greenweb:TextModerationPlus"], "Effect": "Allow", "Resource": ["*"]}]
    (store,) = [r for r in res if r.type == "alicloud:log/store:Store" and r.inputs["logstoreName"] == "moderation-decisions"]
    assert int(store.inputs["retentionPeriod"]) >= 184
    (tail,) = [r for r in res if r.type == "alicloud:log/logTailConfig:LogTailConfig"]
    assert tail.inputs["logstore"] == "moderation-decisions" and "moderation" in tail.inputs["inputDetail"]


@pytest.mark.parametrize("stack", CN_PUBLIC)
def test_stage_manifests_pass_strict_schema(stack):
    version = load_stack(stack).cluster.kubernetes_version
    stage = [o for o in objects(stack) if o["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "moderation"]
    assert sorted({o["kind"] for o in stage}) == ["Deployment", "NetworkPolicy", "PodDisruptionBudget", "Service",
                                                  "ServiceAccount"]
    for obj in stage:
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("stack", GLOBAL)
def test_global_stacks_have_no_stage_by_default(stack):
    assert not [o for o in objects(stack) if "moderation" in o["metadata"]["name"]]
    (route,) = objects(stack, "HTTPRoute")
    assert all(ref["name"].startswith("vllm-") for rule in route["spec"]["rules"] for ref in rule["backendRefs"])


def test_a_global_stack_may_turn_on_the_label_only_stage():
    text = edited_stack("prod-us-east-1", {"gpufleet:compliance": {"moderation": {
        "provider": "noop", "image": "gpufleet-moderation:0.1.0@sha256:" + "a" * 64}}})
    preview = preview_stack("prod-us-east-1", text=text)
    assert preview.ok, preview.error
    (route,) = [r.inputs for r in preview.resources if r.inputs.get("kind") == "HTTPRoute"]
    assert {ref["name"] for rule in route["spec"]["rules"] for ref in rule["backendRefs"]} == {"moderation-blue",
                                                                                           "moderation-green"}
    (proxy, *_) = [r.inputs for r in preview.resources if r.inputs.get("kind") == "Deployment"
                   and r.inputs["metadata"]["name"].startswith("moderation-")]
    assert ".dkr.ecr." in proxy["spec"]["template"]["spec"]["containers"][0]["image"]


@pytest.mark.parametrize(("changes", "message"), [
    ({"gpufleet:compliance.moderation.failOpen": True},
     "stack 'prod-cn-hangzhou': gpufleet:compliance.moderation.failOpen: must be false for prod stacks: a moderation "
     "outage refuses requests (allowed: true only for staging and dev)"),
    ({"gpufleet:compliance.moderation.image": "gpufleet-moderation:0.1.0"},
     "stack 'prod-cn-hangzhou': gpufleet:compliance.moderation.image: 'gpufleet-moderation:0.1.0' must be pinned by "
     "tag and digest (repository:tag@sha256:<64 hex>)"),
    ({"gpufleet:compliance.moderation.image": "docker.io/x/gpufleet-moderation:0.1.0@sha256:" + "b" * 64},
     "stack 'prod-cn-hangzhou': gpufleet:compliance.moderation.image: 'docker.io/x/gpufleet-moderation:0.1.0@sha256:"
     + "b" * 64 + "' names a registry; China stacks pull the proxy from their own ACR (give the short name, e.g. "
     "gpufleet-moderation:0.1.0@sha256:...)"),
])
def test_bad_stage_config_is_one_line(changes, message):
    with pytest.raises(StackConfigError) as err:
        load_stack("prod-cn-hangzhou", edited_stack("prod-cn-hangzhou", changes))
    assert str(err.value) == message


def test_fail_open_is_allowed_for_a_staging_stack():
    text = edited_stack("prod-cn-hangzhou", {"gpufleet:environment": "staging",
                                              "gpufleet:compliance.moderation.failOpen": True})
    assert load_stack("prod-cn-hangzhou", text).compliance.moderation.fail_open


def _policy(preview, stack: str) -> list[str]:
    return [r.message for r in run_policies(preview, load_stack(stack)) if r.policy == POLICY]


@pytest.mark.parametrize("stack", CN_PUBLIC)
def test_policy_passes_the_shipped_china_stacks(stack):
    assert _policy(cached_preview(stack), stack) == []


def test_policy_fails_a_stack_where_the_stage_is_declared_but_not_wired(monkeypatch):
    # What a traffic layer that lost the hook would build: the route straight to vLLM.
    from gpufleet.infra.components import traffic
    monkeypatch.setattr(traffic, "moderation_route_backend", lambda cfg: traffic.backend_for)
    preview = preview_stack("prod-cn-hangzhou")
    messages = _policy(preview, "prod-cn-hangzhou")
    assert "HTTPRoute 'llm' rule 4 sends traffic straight to Service llm-blue/vllm-blue, not through the moderation " \
           "stage (its backends must be moderation proxies)" in messages
    assert len(messages) == 6  # every backendRef of every rule


def test_policy_fails_a_proxy_that_screens_one_way_or_a_service_without_a_proxy():
    preview = copy.deepcopy(cached_preview("prod-cn-hangzhou"))
    for r in preview.resources:
        if r.inputs.get("kind") == "Deployment" and r.inputs["metadata"]["name"] == "moderation-blue":
            args = r.inputs["spec"]["template"]["spec"]["containers"][0]["args"]
            args[args.index("--check-outputs")] = "--no-check-outputs"
    preview.resources[:] = [r for r in preview.resources if not (r.inputs.get("kind") == "Deployment"
                                                                 and r.inputs["metadata"]["name"] == "moderation-green")]
    messages = _policy(preview, "prod-cn-hangzhou")
    assert "moderation proxy llm-blue/moderation-blue runs with --no-check-outputs; a public cn service screens every " \
           "prompt and output and fails closed" in messages
    assert any("moderation Service llm-green/moderation-green selects no moderation proxy Deployment" in m
               for m in messages)

