"""Report formats: CSV header, JSON shape, Markdown tables, self-contained HTML with the chart."""

from __future__ import annotations

import re

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from gpufleet.core.cost import CostInputs, NodePoolInputs, compute_stack_cost, load_fx, load_price_catalog
from gpufleet.cost.chart import svg_monthly_chart
from gpufleet.core.cost.per_token import cost_per_million_tokens, load_loadtest_report
from gpufleet.cost.render import (
    CSV_HEADER,
    fmt_money,
    render,
    render_csv,
    render_html,
    render_json,
    render_markdown,
    render_table,
)

FIXTURES = Path(__file__).parent / "fixtures" / "prices"
CATALOG = load_price_catalog(FIXTURES / "catalog")
FX = load_fx(FIXTURES / "catalog" / "fx.yaml")

US = CostInputs(
    stack="prod-us", cloud="aws", region="us-east-1", jurisdiction="global", billing_currency="USD",
    node_pools=(NodePoolInputs("gpu", "g5.xlarge", "on-demand", 1, 2, 0),),
)
CN = CostInputs(
    stack="cn-prod", cloud="alicloud", region="cn-hangzhou", jurisdiction="cn", billing_currency="CNY",
    node_pools=(NodePoolInputs("gpu", "ecs.gn7i-c8g1.2xlarge", "on-demand", 1, 2, 0),), nat_gateways=1,
)
COSTS = [compute_stack_cost(US, CATALOG, FX), compute_stack_cost(CN, CATALOG, FX)]
TOKENS = {
    "prod-us": cost_per_million_tokens(COSTS[0], load_loadtest_report(FIXTURES / "loadtest_pass.json")),
    "cn-prod": cost_per_million_tokens(COSTS[1], load_loadtest_report(FIXTURES / "loadtest_fail.json")),
}
# prod-us: (1.006 + 0.10) x 730 = 807.38 USD; max 2 nodes: (2.012 + 0.10) x 730 = 1541.76
# cn-prod: (9.74 + 0.64) x 730 = 7577.4 CNY, + NAT 0.034 USD x 730 x 7.10 = 176.222 -> 7753.622 CNY
#          max: (19.48 + 0.64) x 730 + 176.222 = 14863.822 CNY; in USD 7753.622 / 7.10 = 1092.0594...


def test_money_formatting_rounds_half_up_for_display_only():
    assert fmt_money(Decimal("1234.565"), "USD") == "$1,234.57"
    assert fmt_money(Decimal("-7577.4"), "CNY") == "-¥7,577.40"
    assert fmt_money(Decimal("0.61444"), "USD", Decimal("0.0001")) == "$0.6144"


def test_csv_has_the_documented_header_and_one_row_per_line_item():
    rows = list(csv.reader(io.StringIO(render_csv(COSTS))))
    assert tuple(rows[0]) == CSV_HEADER
    assert rows[0][:7] == ["stack", "cloud", "region", "billing_currency", "key", "resource", "category"]
    assert len(rows) == 1 + 2 + 3  # header, prod-us (gpu, cluster), cn-prod (gpu, cluster, nat)
    nat = dict(zip(rows[0], rows[-1]))
    assert (nat["stack"], nat["key"], nat["unit_price"], nat["price_currency"]) == ("cn-prod", "nat", "0.034", "USD")
    assert (nat["monthly"], nat["monthly_usd"], nat["estimate"]) == ("176.22", "24.82", "false")


def test_json_shape():
    data = json.loads(render_json(COSTS, TOKENS))
    assert set(data) == {"schema", "hours_per_month", "total_usd", "stacks"}
    assert data["schema"] == "gpufleet.cost-report/v1" and data["hours_per_month"] == 730
    # 807.38 + 1092.0594 = 1899.44 USD; max 1541.76 + 14863.822 / 7.10 (= 2093.4961) = 3635.26
    assert data["total_usd"] == {"desired": {"monthly": "1899.44"}, "max": {"monthly": "3635.26"}}
    us, cn = data["stacks"]
    assert us["totals"] == {
        "USD": {"desired": {"hourly": "1.1060", "monthly": "807.38"}, "max": {"hourly": "2.1120", "monthly": "1541.76"}},
    }
    assert cn["totals"]["CNY"]["desired"]["monthly"] == "7753.62" and cn["totals"]["USD"]["desired"]["monthly"] == "1092.06"
    assert cn["per_million_output_tokens"]["flagged"] is True
    assert cn["per_million_output_tokens"]["loadtest"]["verdict"] == "fail"
    assert us["per_million_output_tokens"]["per_million"] == "0.6144"  # 1.106 / 1.8
    assert us["has_estimates"] is False and cn["has_estimates"] is True


def test_markdown_summary_and_line_tables():
    text = render_markdown(COSTS, TOKENS)
    lines = text.splitlines()
    assert lines[2] == (
        "| Stack | Cloud | Region | Monthly (desired) | Monthly (max) | USD/month (desired) | USD/month (max) "
        "| Cost / 1M output tokens | Load test |"
    )
    assert "| prod-us | aws | us-east-1 | $807.38 | $1,541.76 | $807.38 | $1,541.76 | $0.6144 | pass |" in lines
    # per token: 7753.622 / 730 = 10.62140 CNY/h / 900,000 tokens/h x 10^6 = 11.8016 CNY; / 7.10 = 1.6622 USD
    assert (
        "| cn-prod | alicloud | cn-hangzhou | ¥7,753.62 | ¥14,863.82 | $1,092.06 | $2,093.50 | ¥11.8016 ($1.6622) "
        "| **fail** ⚠ SLO gate not passed |"
    ) in lines
    assert "| **Total (USD)** | | | | | **$1,899.44** | **$3,635.26** | | |" in lines
    assert "### cn-prod (alicloud cn-hangzhou, CNY)" in lines
    assert "| NAT gateways | 1 gateways | 1 | 0.034 USD/gateway-hour | ¥176.22 | ¥176.22 |  |" in lines


def test_html_is_self_contained_with_the_chart_and_every_stack():
    html = render_html(COSTS, TOKENS)
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("<svg") == 2  # desired and maximum size
    assert 'aria-label="Monthly cost by stack and line item (USD, desired size)"' in html
    assert 'aria-label="Monthly cost by stack and line item (USD, maximum size)"' in html
    assert "<strong>Fleet total:</strong> $1,899.44/month at desired size, $3,635.26/month at maximum size" in html
    for stack in ("prod-us", "cn-prod"):
        assert f'<tr id="stack-{stack}">' in html and f"<h2>{stack} " in html
        assert f"<title>{stack}: " in html  # a chart segment per line item, named in its tooltip
    assert "<script" not in html and "<link" not in html and "src=" not in html and "@import" not in html
    assert '<td class="flag">fail ⚠</td>' in html


def _bar_widths(svg: str) -> dict[str, float]:
    import re

    widths: dict[str, float] = {}
    for width, stack in re.findall(r'<rect x="[0-9.]+" y="[0-9.]+" width="([0-9.]+)" height="20" fill="#[0-9a-f]+" '
                                   r'data-key="[^"]+"><title>([^:]+):', svg):
        widths[stack] = widths.get(stack, 0.0) + float(width)
    return widths


def test_chart_bar_lengths_follow_usd_monthly_cost_on_a_value_axis():
    svg = svg_monthly_chart(COSTS)
    # axis $0..$1,250 (ticks every $250) over 590 units: cn-prod 1092.06 USD -> 515.4, prod-us 807.38 -> 381.1
    widths = _bar_widths(svg)
    assert widths["cn-prod"] == pytest.approx(1092.06 / 1250 * 590, abs=0.3)
    assert widths["prod-us"] == pytest.approx(807.38 / 1250 * 590, abs=0.3)
    assert [t for t in re.findall(r'class="axis-tick">([^<]+)<', svg)] == [
        "$0", "$250", "$500", "$750", "$1k", "$1.25k"]
    assert 'class="fleet-total">$1,899.44/month<' in svg
    assert 'class="legend">compute $' in svg and svg.count('class="legend"') == 5
    # the GPU line is wide enough to carry its amount; small items are listed with their amount under the bar
    assert '>$734</text>' in svg and 'class="small-item">NAT gateways $' in svg


def test_the_maximum_size_view_uses_the_autoscaling_ceiling():
    widths = _bar_widths(svg_monthly_chart(COSTS, maximum=True))
    assert widths["prod-us"] / widths["cn-prod"] == pytest.approx(1541.76 / 2093.4961, rel=2e-3)


def test_console_summary_fits_80_columns_without_breaking_stack_names():
    text = render_table(COSTS, TOKENS, width=80)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert any(line.lstrip().startswith("prod-us ") for line in text.splitlines())
    assert "Total (USD)" in text and "$1,899.44" in text and "$3,635.26" in text


def test_table_lists_stacks_totals_and_flags_failed_gates():
    text = render_table(COSTS, TOKENS, lines=True)
    assert "prod-us" in text and "cn-prod" in text and "$1,899.44" in text
    assert "fail ⚠" in text and "⚠ load test did not pass its SLO gate for: cn-prod" in text
    assert "gpu pool: ecs.gn7i-c8g1.2xlarge (on-demand)" in text  # --lines shows line items


def test_unknown_format_is_rejected():
    with pytest.raises(ValueError) as exc:
        render("pdf", COSTS, TOKENS)
    assert str(exc.value) == "format must be one of table, csv, json, markdown, html; got 'pdf'"
