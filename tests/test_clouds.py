"""One class per cloud: the facts core code used to branch on, looked up by name."""

from __future__ import annotations

import ast
from dataclasses import dataclass

import pytest

from conftest import ROOT
from gpufleet.core import clouds
from gpufleet.core.clouds.base import Cloud
from gpufleet.core.manifests import weights_fetch_command
from gpufleet.core.model_catalog import load_model_catalog
from gpufleet.infra.components.traffic_gateway import load_balancer_annotations


def test_each_cloud_serves_one_jurisdiction():
    assert clouds.NAMES == ("aws", "alicloud")
    assert clouds.for_jurisdiction("global") is clouds.get("aws")
    assert clouds.for_jurisdiction("cn") is clouds.get("alicloud")
    with pytest.raises(ValueError, match=r"unknown cloud 'gcp' \(allowed: aws, alicloud\)"):
        clouds.get("gcp")


def test_facts_per_cloud():
    aws, ali = clouds.get("aws"), clouds.get("alicloud")
    assert (aws.region_key, aws.bucket_scheme, aws.billing_currency, aws.dns_service) == ("aws:region", "s3://", "USD", "route53")
    assert (ali.region_key, ali.bucket_scheme, ali.billing_currency, ali.dns_service) == (
        "alicloud:region", "oss://", "CNY", "alidns")
    assert aws.registry_host("prod-us-east-1", "us-east-1") is None  # ECR's host needs the account: known after deploy
    assert ali.registry_host("prod-cn-hangzhou", "cn-hangzhou") == \
        "gpufleet-prod-cn-hangzhou-acr-registry-vpc.cn-hangzhou.cr.aliyuncs.com"
    assert aws.workload_identity("s", "{{arn}}") == ({"eks.amazonaws.com/role-arn": "{{arn}}"}, {})
    assert ali.workload_identity("s", "{{arn}}")[1] == {"pod-identity.alibabacloud.com/injection": "on"}
    assert aws.check_service_cidr_prefix(25) == "EKS needs a prefix between /12 and /24"
    assert ali.check_service_cidr_prefix(25) is None and ali.log_retention_days() is None


@dataclass(frozen=True)
class _Gcp(Cloud):
    def weights_fetch_command(self, src: str, dest: str) -> list[str]:
        return ["gcloud", "storage", "rsync", src, dest]

    def load_balancer_annotations(self, stack, tags, *, public):
        return {"cloud.google.com/l4-rbs": "enabled"}


def test_a_third_cloud_is_one_more_class(monkeypatch):
    gcp = _Gcp(**{**vars(clouds.get("aws")), "name": "gcp", "title": "Google Cloud", "jurisdiction": "eu-sovereign",
                  "region_key": "gcp:region", "bucket_scheme": "gs://"})
    monkeypatch.setitem(clouds.CLOUDS, "gcp", gcp)
    model = next(iter(load_model_catalog().models.values()))
    assert weights_fetch_command("gcp", "gs://b/m", model)[:3] == ["gcloud", "storage", "rsync"]
    assert load_balancer_annotations("gcp", "s", {}) == {"cloud.google.com/l4-rbs": "enabled"}
    assert clouds.for_jurisdiction("eu-sovereign") is gcp


CLOUD_NAMES = {"aws", "alicloud"}
# Where cloud differences must be lookups, not comparisons with a cloud's name.
NO_BRANCHES = ["gpufleet/core", "gpufleet/commands", "gpufleet/promote", "gpufleet/cost",
               "gpufleet/infra/components/traffic.py", "gpufleet/infra/components/traffic_components.py",
               "gpufleet/infra/components/traffic_gateway.py", "gpufleet/infra/components/traffic_dns.py",
               "gpufleet/infra/components/traffic_routes.py", "gpufleet/infra/components/traffic_netpol.py"]


def _branches(path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(isinstance(o, ast.Constant) and o.value in CLOUD_NAMES for o in operands):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_no_branch_on_a_clouds_name_outside_its_class():
    files = []
    for entry in NO_BRANCHES:
        target = ROOT / entry
        files += sorted(target.rglob("*.py")) if target.is_dir() else [target]
    files = [f for f in files if "clouds" not in f.relative_to(ROOT).parts]
    assert files and [b for f in files for b in _branches(f)] == []
