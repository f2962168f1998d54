"""The offline CRD validator itself: it accepts upstream-valid objects and names each violation."""

from __future__ import annotations

import pytest

from gpufleet.core.crds import CrdError, crd_errors, known_kinds, validate_custom_resource

SCALED = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "vllm-blue"},
          "spec": {"scaleTargetRef": {"name": "vllm-blue"}, "minReplicaCount": 1,
                   "triggers": [{"type": "prometheus", "metadata": {"serverAddress": "http://prom:9090",
                                                                   "query": "sum(vllm:num_requests_waiting)",
                                                                   "threshold": "4"}}]}}


def test_every_vendored_project_is_indexed():
    groups = {api.split("/")[0] for api, _ in known_kinds()}
    assert groups == {"keda.sh", "karpenter.sh", "karpenter.k8s.aws", "monitoring.coreos.com",
                      "gateway.networking.k8s.io", "gateway.envoyproxy.io"}


def test_valid_scaled_object_passes():
    assert crd_errors(SCALED) == []


def test_unknown_field_and_missing_required_are_named():
    bad = {**SCALED, "spec": {"scaleTargetRef": {"name": "x"}, "trigger": []}}
    assert crd_errors(bad) == ["spec: 'triggers' is a required property",
                               "spec: Additional properties are not allowed ('trigger' was unexpected)"]


def test_wrong_type_and_unknown_kind():
    with pytest.raises(CrdError, match=r"ScaledObject 'vllm-blue': spec.minReplicaCount: 'one' is not of type 'integer'"):
        validate_custom_resource({**SCALED, "spec": {**SCALED["spec"], "minReplicaCount": "one"}})
    with pytest.raises(CrdError, match="no vendored CRD defines keda.sh/v9 ScaledObject"):
        crd_errors({**SCALED, "apiVersion": "keda.sh/v9"})
