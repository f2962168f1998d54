"""The SLO model: camelCase config keys, frozen, clear messages for bad values."""

from __future__ import annotations

import pydantic
import pytest
import yaml

from gpufleet.core.slo import SloSpec, with_load

STACK_YAML = """
gpufleet:slo:
  workload: chinese_chat
  targetRate: 4
  durationS: 120
  warmupS: 15
  ttftP95Ms: 800
  tpotP95Ms: 60
  maxErrorRate: 0.01
  minGoodput: 0.95
  goodputTtftMs: 1000
  goodputTpotMs: 80
  minSamples: 300
"""


def error_of(**data) -> str:
    with pytest.raises(pydantic.ValidationError) as info:
        SloSpec.model_validate(data)
    errors = info.value.errors()
    assert len(errors) == 1, errors
    return errors[0]["msg"]


def test_the_stack_config_block_parses_with_camel_case_keys():
    slo = SloSpec.model_validate(yaml.safe_load(STACK_YAML)["gpufleet:slo"])
    assert (slo.workload, slo.target_rate, slo.target_users, slo.mode) == ("chinese_chat", 4.0, None, "open")
    assert (slo.ttft_p95_ms, slo.tpot_p95_ms, slo.goodput_ttft_ms, slo.min_samples) == (800.0, 60.0, 1000.0, 300)
    assert slo.model_dump(by_alias=True)["ttftP95Ms"] == 800.0


def test_python_names_are_accepted_too_and_the_model_is_frozen():
    slo = SloSpec(target_users=4, ttft_p95_ms=500)
    assert slo.mode == "closed" and slo.duration_s == 60.0 and slo.warmup_s == 10.0
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        slo.ttft_p95_ms = 1.0


def test_unknown_keys_are_rejected():
    with pytest.raises(pydantic.ValidationError, match="ttftP59Ms"):
        SloSpec.model_validate({"targetUsers": 1, "ttftP95Ms": 1, "ttftP59Ms": 2})


def test_exactly_one_target_load():
    assert error_of(ttftP95Ms=1) == (
        "Value error, set exactly one of targetUsers (closed loop) or targetRate (open loop); got neither"
    )
    assert error_of(ttftP95Ms=1, targetUsers=2, targetRate=1, minSamples=1) == (
        "Value error, set exactly one of targetUsers (closed loop) or targetRate (open loop); got both"
    )


def test_threshold_messages_name_the_config_key():
    assert error_of(targetUsers=1, ttftP95Ms=-5) == (
        "Value error, ttftP95Ms must be a positive number of milliseconds, got -5.0"
    )
    assert error_of(targetUsers=1, ttftP95Ms=1, maxErrorRate=5) == (
        "Value error, maxErrorRate is a share between 0 and 1 (0.01 means 1%), got 5.0"
    )
    assert error_of(targetUsers=0, ttftP95Ms=1) == "Value error, targetUsers must be at least 1, got 0"
    assert error_of(targetRate=-1, ttftP95Ms=1) == (
        "Value error, targetRate must be a positive number per second, got -1.0"
    )
    assert error_of(targetUsers=1, ttftP95Ms=1, durationS=0) == (
        "Value error, durationS must be a positive number of seconds, got 0.0"
    )
    assert error_of(targetUsers=1, ttftP95Ms=1, warmupS=-1) == (
        "Value error, warmupS must be zero or a positive number of seconds, got -1.0"
    )
    assert error_of(targetUsers=1, ttftP95Ms=1, workload="Short Chat") == (
        "Value error, workload must be a lower-case name like 'short_chat' (letters, digits, '_'), got 'Short Chat'"
    )


def test_e2e_key_is_spelled_like_the_others():
    slo = SloSpec.model_validate({"targetUsers": 1, "ttftP95Ms": 1, "e2eP95Ms": 900})
    assert slo.e2e_p95_ms == 900.0 and "e2eP95Ms" in slo.model_dump(by_alias=True)
    assert error_of(targetUsers=1, ttftP95Ms=1, e2eP95Ms=0) == (
        "Value error, e2eP95Ms must be a positive number of milliseconds, got 0.0"
    )


def test_a_rate_too_low_for_min_samples_is_refused_up_front():
    assert error_of(targetRate=1, ttftP95Ms=1, durationS=50, minSamples=100) == (
        "Value error, targetRate x durationS = 50 requests, fewer than minSamples (100); "
        "lengthen durationS or lower minSamples"
    )


def test_with_load_switches_the_loop_and_revalidates():
    slo = SloSpec.model_validate(yaml.safe_load(STACK_YAML)["gpufleet:slo"])
    closed = with_load(slo, users=3, duration_s=5, warmup_s=1)
    assert (closed.mode, closed.target_users, closed.target_rate, closed.duration_s) == ("closed", 3, None, 5.0)
    opened = with_load(closed, rate=100.0)
    assert (opened.mode, opened.target_rate, opened.target_users) == ("open", 100.0, None)
    with pytest.raises(pydantic.ValidationError, match="fewer than minSamples"):
        with_load(slo, duration_s=5)
    with pytest.raises(ValueError, match=r"^give either users \(closed loop\) or rate \(open loop\), not both$"):
        with_load(slo, users=1, rate=1.0)
