"""Cost per million output tokens = whole stack hourly (desired) / (tokens/s x 3600) x 10^6."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from gpufleet.core.cost import CostInputs, NodePoolInputs, compute_stack_cost, load_fx, load_price_catalog
from gpufleet.core.cost.outputs import money
from gpufleet.core.cost.per_token import (
    LoadTestReportError,
    cost_per_million_tokens,
    load_loadtest_report,
    parse_loadtest_report,
)

FIXTURES = Path(__file__).parent / "fixtures" / "prices"
CATALOG = load_price_catalog(FIXTURES / "catalog")
FX = load_fx(FIXTURES / "catalog" / "fx.yaml")
FOUR = Decimal("0.0001")


def one_gpu(cloud: str, region: str, itype: str, currency: str) -> CostInputs:
    return CostInputs(
        stack=f"{cloud}-one", cloud=cloud, region=region, jurisdiction="global" if cloud == "aws" else "cn",  # type: ignore[arg-type]
        billing_currency=currency, node_pools=(NodePoolInputs("gpu", itype, "on-demand", 1, 3, 0),),  # type: ignore[arg-type]
    )


def test_aws_per_million_tokens_uses_whole_stack_at_desired_size():
    cost = compute_stack_cost(one_gpu("aws", "us-east-1", "g5.xlarge", "USD"), CATALOG, FX)
    token = cost_per_million_tokens(cost, load_loadtest_report(FIXTURES / "loadtest_pass.json"))
    # hourly = 1 x g5.xlarge 1.006 + EKS 0.10 = 1.106 USD (max of 3 nodes is not used)
    # 500 tokens/s x 3600 = 1,800,000 tokens/h; 1.106 / 1,800,000 x 10^6 = 0.61444...
    assert token.hourly == Decimal("1.106")
    assert money(token.per_million, FOUR) == "0.6144"
    assert token.per_million_usd == token.per_million
    assert not token.flagged and token.loadtest.verdict == "pass"


def test_cny_stack_gives_cny_and_usd_and_a_failed_gate_is_flagged():
    cost = compute_stack_cost(one_gpu("alicloud", "cn-hangzhou", "ecs.gn7i-c8g1.2xlarge", "CNY"), CATALOG, FX)
    token = cost_per_million_tokens(cost, load_loadtest_report(FIXTURES / "loadtest_fail.json"))
    # hourly = 9.74 + ACK Pro 0.64 = 10.38 CNY; 250 tokens/s x 3600 = 900,000 tokens/h
    # 10.38 / 900,000 x 10^6 = 11.5333 CNY; in USD 10.38 / 7.10 = 1.461971... / 0.9 = 1.624413...
    assert money(token.per_million, FOUR) == "11.5333"
    assert money(token.per_million_usd, FOUR) == "1.6244"
    assert token.flagged and token.loadtest.verdict == "fail"


def report(**overrides):
    data = json.loads((FIXTURES / "loadtest_pass.json").read_text())
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize(("data", "message"), [
    (report(output_tokens_per_s=0), "load-test report r.json: output_tokens_per_s must be > 0; got 0"),
    (report(output_tokens_per_s="fast"), "load-test report r.json: output_tokens_per_s must be a number; got 'fast'"),
    (report(gate={"checks": []}), "load-test report r.json: gate.verdict is required"),
    (report(model=None), "load-test report r.json: model is required"),
    (report(target=""), "load-test report r.json: target is required"),
    ({**report(gate={"verdict": "invalid"}), "output_tokens_per_s": None},
     "load-test report r.json: no output_tokens_per_s (verdict 'invalid'); there is no throughput to price"),
    (report(duration_s=None), "load-test report r.json: duration_s is required"),
    ([1, 2], "load-test report r.json: must be a JSON object"),
])
def test_bad_reports_say_which_field(data, message):
    with pytest.raises(LoadTestReportError) as exc:
        parse_loadtest_report(data, "r.json")
    assert str(exc.value) == message


def test_a_report_of_the_loadtest_writer_shape_is_accepted():
    # gpufleet.loadtest's JSON carries many more fields and may leave model empty
    data = report(model="", schema="gpufleet.loadtest.report/v1", duration_s=300.0, output_tokens_per_s=812.4)
    result = parse_loadtest_report(data, "r.json")
    assert (result.model, result.duration_s, result.output_tokens_per_s) == ("", Decimal("300.0"), Decimal("812.4"))


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(LoadTestReportError) as exc:
        load_loadtest_report(tmp_path / "nope.json")
    assert str(exc.value) == f"load-test report {tmp_path / 'nope.json'}: file not found"
    bad = tmp_path / "bad.json"
    bad.write_text("{\n  oops\n}")
    with pytest.raises(LoadTestReportError) as exc:
        load_loadtest_report(bad)
    assert str(exc.value) == f"load-test report {bad}: not valid JSON (line 2)"
