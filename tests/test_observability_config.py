"""`gpufleet:observability` and the SLO-to-rules checks: one exact line per bad value, before
any resource exists; defaults and sizing for the shipped stacks."""

from __future__ import annotations

import pytest

from conftest import edited_stack
from gpufleet.core.config import load_stack
from gpufleet.core.errors import StackConfigError
from gpufleet.core.observability_config import ObservabilityConfig, remote_write_url
from gpufleet.core.observability_sizing import footprint
from gpufleet.preview.engine import preview_stack

WS = "ws-0123abcd-4567-89ef-0123-456789abcdef"
ARMS = "https://cn-beijing.arms.aliyuncs.com/prometheus/1234/abcd/cn-beijing/api/v3/write"
OBS = "gpufleet:observability"

BAD = [
    ("prod-us-east-1", {OBS: {"retentionDays": 0}},
     "stack 'prod-us-east-1': gpufleet:observability.retentionDays: Input should be greater than or equal to 1; got 0"),
    ("prod-us-east-1", {OBS: {"storageGib": 5}},
     "stack 'prod-us-east-1': gpufleet:observability.storageGib: Input should be greater than or equal to 10; got 5"),
    ("prod-us-east-1", {OBS: {"scrapeIntervalS": 1}},
     "stack 'prod-us-east-1': gpufleet:observability.scrapeIntervalS: Input should be greater than or equal to 5; got 1"),
    ("prod-us-east-1", {OBS: {"retentionDays": 365, "storageGib": 50}},
     "stack 'prod-us-east-1': gpufleet:observability.storageGib: 50 GiB cannot hold 365 days of metrics at this "
     "stack's maximum size (needs 205 GiB; raise storageGib or lower retentionDays)"),
    ("prod-us-east-1", {OBS: {"retension": 30}},
     "stack 'prod-us-east-1': gpufleet:observability.retension: unknown key (allowed: prometheusReplicas, "
     "remoteWrite, retentionDays, scrapeIntervalS, storageGib)"),
    ("prod-us-east-1", {OBS: {"remoteWrite": {"provider": "arms", "url": ARMS}}},
     "stack 'prod-us-east-1': gpufleet:observability.remoteWrite.provider: 'arms' is not allowed here "
     "(aws stacks; allowed: amp)"),
    ("prod-us-east-1", {OBS: {"remoteWrite": {"provider": "amp"}}},
     "stack 'prod-us-east-1': gpufleet:observability.remoteWrite.workspaceId: is required for provider amp "
     "(e.g. ws-0123abcd-...)"),
    ("prod-us-east-1", {OBS: {"remoteWrite": {"provider": "amp", "workspaceId": "prod"}}},
     "stack 'prod-us-east-1': gpufleet:observability.remoteWrite.workspaceId: must match "
     "^ws-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$; got 'prod'"),
    ("prod-cn-beijing", {OBS: {"remoteWrite": {"provider": "amp", "workspaceId": WS}}},
     "stack 'prod-cn-beijing': gpufleet:observability.remoteWrite.provider: 'amp' is not allowed here "
     "(China stacks keep metrics in mainland China; allowed: arms)"),
    ("prod-cn-beijing", {OBS: {"remoteWrite": {"provider": "arms", "url": ARMS.replace("cn-beijing", "ap-southeast-1", 1)}}},
     "stack 'prod-cn-beijing': gpufleet:observability.remoteWrite.url: 'https://ap-southeast-1.arms.aliyuncs.com/"
     "prometheus/1234/abcd/cn-beijing/api/v3/write' is not an ARMS endpoint (<region>.arms.aliyuncs.com)"),
    ("prod-cn-beijing", {OBS: {"remoteWrite": {"provider": "arms", "url": ARMS.replace("cn-beijing", "cn-hongkong", 1)}}},
     "stack 'prod-cn-beijing': gpufleet:observability.remoteWrite.url: writes metrics outside mainland China, "
     "not in the stack's region cn-beijing (metrics stay in the stack's region)"),
    ("prod-cn-beijing", {OBS: {"remoteWrite": {"provider": "arms", "url": ARMS.replace("cn-beijing", "cn-hangzhou", 1)}}},
     "stack 'prod-cn-beijing': gpufleet:observability.remoteWrite.url: writes metrics in cn-hangzhou, "
     "not in the stack's region cn-beijing (metrics stay in the stack's region)"),
    ("prod-cn-beijing", {OBS: {"remoteWrite": {"provider": "arms", "url": "https://example.com/api/v1/write"}}},
     "stack 'prod-cn-beijing': gpufleet:observability.remoteWrite.url: 'https://example.com/api/v1/write' is not "
     "an ARMS endpoint (<region>.arms.aliyuncs.com)"),
]


def _slo(stack: str, **changes) -> dict:
    import yaml

    from conftest import stack_text
    slo = dict(yaml.safe_load(stack_text(stack))["config"]["gpufleet:slo"])
    slo.update(changes)
    return {"gpufleet:slo": slo}


BAD_SLO = [
    ("prod-us-east-1", _slo("prod-us-east-1", ttftP95Ms=0.5),
     "stack 'prod-us-east-1': gpufleet:slo.ttftP95Ms: 0.5 ms is outside vLLM's histogram buckets (1..2.56e+06 ms)"),
    ("prod-us-east-1", _slo("prod-us-east-1", tpotP95Ms=5),
     "stack 'prod-us-east-1': gpufleet:slo.tpotP95Ms: 5 ms is outside vLLM's histogram buckets (10..80000 ms)"),
    ("prod-us-east-1", _slo("prod-us-east-1", maxErrorRate=0.1),
     "stack 'prod-us-east-1': gpufleet:slo.maxErrorRate: an error budget of 0.1 makes the 14.4x page burn rate "
     "unreachable (allowed: below 0.0694)"),
    ("prod-us-east-1", _slo("prod-us-east-1", maxErrorRate=0),
     "stack 'prod-us-east-1': gpufleet:slo.maxErrorRate: a zero error budget cannot be burned at a rate; "
     "set a positive share"),
]


@pytest.mark.parametrize("stack,changes,message", BAD + BAD_SLO, ids=[f"{i:02d}" for i in range(len(BAD + BAD_SLO))])
def test_bad_observability_and_slo_values_name_the_key(stack, changes, message):
    with pytest.raises(StackConfigError) as info:
        load_stack(stack, text=edited_stack(stack, changes))
    assert str(info.value) == message


def test_bad_value_stops_the_program_before_any_resource():
    stack, changes, message = BAD[3]
    preview = preview_stack(stack, text=edited_stack(stack, changes))
    assert (preview.ok, preview.error, preview.resources) == (False, message, [])


def test_defaults_and_valid_remote_write():
    assert ObservabilityConfig() == ObservabilityConfig(retention_days=15, storage_gib=100, scrape_interval_s=30,
                                                        prometheus_replicas=2, remote_write=None)
    cfg = load_stack("prod-us-east-1", text=edited_stack(
        "prod-us-east-1", {OBS: {"remoteWrite": {"provider": "amp", "workspaceId": WS}, "retentionDays": 30}}))
    assert remote_write_url(cfg.observability, cfg.region) == (
        f"https://aps-workspaces.us-east-1.amazonaws.com/workspaces/{WS}/api/v1/remote_write")
    cn = load_stack("prod-cn-beijing", text=edited_stack(
        "prod-cn-beijing", {OBS: {"remoteWrite": {"provider": "arms", "url": ARMS}}}))
    assert remote_write_url(cn.observability, cn.region) == ARMS


def test_footprint_counts_nodes_gpus_replicas_and_envoy():
    cfg = load_stack("prod-us-east-1")  # 3/6 system, 4/16 GPU nodes (1 GPU each), replicas 4+1 / 12+3, traffic on
    f = footprint(cfg)
    assert f.series == 5000 + 3000 + (3 + 4) * 3000 + 4 * 30 + 5 * 400
    assert f.series_max == 5000 + 3000 + (6 + 16) * 3000 + 16 * 30 + 15 * 400
    assert f.samples_per_month() == f.series * 730 * 3600 // 30
