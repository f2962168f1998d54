"""Traffic config as the program sees it: per-stack weights and fleet-wide rules."""

import pytest

from conftest import cached_preview, edited_stack, shipped_stacks
from gpufleet.preview.engine import preview_stack
from gpufleet.core.config import check_fleet, load_stack
from gpufleet.core.errors import StackConfigError


def test_every_shipped_stack_has_a_gated_endpoint():
    for stack in shipped_stacks():
        cfg = load_stack(stack)
        assert cfg.traffic is not None and sum(cfg.traffic.release_weights.values()) == 100
        assert cfg.slo is not None
        check_fleet(cfg)  # no exception: jurisdictions never share a hostname


def test_china_and_global_never_share_a_record():
    cfg = load_stack("prod-cn-hangzhou", text=edited_stack("prod-cn-hangzhou", {
        "gpufleet:traffic.hostname": "assistant.example.com", "gpufleet:traffic.dnsZone": "example.com"}))
    with pytest.raises(StackConfigError) as info:
        check_fleet(cfg)
    assert "prod-cn-hangzhou" in str(info.value) and "jurisdiction" in str(info.value)
    assert "\n" not in str(info.value)


def test_the_program_refuses_a_mixed_record_before_any_resource():
    text = edited_stack("prod-cn-beijing", {"gpufleet:traffic.hostname": "assistant.example.com",
                                             "gpufleet:traffic.dnsZone": "example.com"})
    p = preview_stack("prod-cn-beijing", text=text)
    assert p.ok is False and p.resources == []
    assert "jurisdiction" in p.error


def test_weights_that_do_not_add_up_are_refused():
    text = edited_stack("prod-us-east-1", {"gpufleet:traffic.releaseWeights": {"blue": 90, "green": 20}})
    p = preview_stack("prod-us-east-1", text=text)
    assert p.error == ("stack 'prod-us-east-1': gpufleet:traffic.releaseWeights: weights must add up to 100; "
                       "got 110 (blue=90, green=20)")
    assert p.resources == []


def test_weight_to_a_missing_release_is_refused():
    text = edited_stack("prod-eu-central-1", {"gpufleet:traffic.releaseWeights": {"blue": 50, "green": 50}})
    p = preview_stack("prod-eu-central-1", text=text)
    assert p.error == ("stack 'prod-eu-central-1': gpufleet:traffic.releaseWeights.green: 'green' is not a release "
                       "of this stack (allowed: blue)")


def test_http_route_carries_the_configured_weights():
    p = cached_preview("prod-us-east-1")
    route = [r.inputs for r in p.resources if r.type == "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"][0]
    weighted = [rule for rule in route["spec"]["rules"] if not rule.get("matches") or
                all(m.get("path", {}).get("value", "/") == "/" and not m.get("headers") for m in rule["matches"])]
    backends = {b["namespace"]: b["weight"] for rule in weighted for b in rule["backendRefs"]}
    assert backends == {"llm-blue": 100, "llm-green": 0}
