"""Monthly change per stack and per line item, as a pull-request comment shows it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from gpufleet.core.cost import CostInputs, NodePoolInputs, compute_stack_cost, load_fx, load_price_catalog
from gpufleet.cost.diff import diff_costs, total_change_usd
from gpufleet.cost.render import render_diff_markdown

CATALOG_DIR = Path(__file__).parent / "fixtures" / "prices" / "catalog"
CATALOG = load_price_catalog(CATALOG_DIR)
FX = load_fx(CATALOG_DIR / "fx.yaml")


def aws(gpus: int, stack: str = "prod-us") -> CostInputs:
    return CostInputs(
        stack=stack, cloud="aws", region="us-east-1", jurisdiction="global", billing_currency="USD",
        node_pools=(NodePoolInputs("gpu", "g5.xlarge", "on-demand", gpus, 4, 200),), nat_gateways=1,
    )


def ali(stack: str = "cn-prod") -> CostInputs:
    return CostInputs(
        stack=stack, cloud="alicloud", region="cn-hangzhou", jurisdiction="cn", billing_currency="CNY",
        node_pools=(NodePoolInputs("gpu", "ecs.gn7i-c8g1.2xlarge", "on-demand", 1, 2, 0),),
    )


def costs(*inputs: CostInputs):
    return {i.stack: compute_stack_cost(i, CATALOG, FX) for i in inputs}


def test_scaling_a_pool_changes_instances_and_disks_only():
    (change,) = diff_costs(costs(aws(2)), costs(aws(3)))
    # one more g5.xlarge: 1.006 x 730 = 734.38; one more 200 GB disk: 200 x 0.08 = 16
    assert change.status == "changed" and change.change == Decimal("750.38")
    assert [(c.key, c.before, c.after) for c in change.lines] == [
        ("pool:gpu:instances", Decimal("1468.76"), Decimal("2203.14")),
        ("pool:gpu:disks", Decimal("32.00"), Decimal("48.00")),
    ]
    # before: 1468.76 + 32 + 73 (EKS) + 32.85 (0.045 x 730 NAT) = 1606.61
    assert change.before == Decimal("1606.61")
    assert round(change.percent, 4) == Decimal("46.7058")  # 750.38 / 1606.61 x 100


def test_added_removed_and_unchanged_stacks():
    before = costs(aws(2), ali("cn-old"))
    after = costs(aws(2), ali("cn-new"))
    changes = {c.stack: c for c in diff_costs(before, after)}
    assert [changes[s].status for s in ("cn-new", "cn-old", "prod-us")] == ["added", "removed", "unchanged"]
    # cn-new: (9.74 + 0.64) x 730 = 7577.4 CNY; in USD / 7.10 = 1067.2394...
    assert changes["cn-new"].currency == "CNY" and changes["cn-new"].change == Decimal("7577.40")
    assert total_change_usd(tuple(changes.values())) == Decimal(0)  # one CNY stack replaced by an identical one


def test_currency_change_is_compared_in_usd():
    before = costs(ali("moved"))
    after = {"moved": compute_stack_cost(aws(1, "moved"), CATALOG, FX)}
    (change,) = diff_costs(before, after)
    assert change.currency == "USD"
    # before 7577.4 CNY / 7.10 = 1067.239...; after 734.38 + 16 + 73 + 32.85 = 856.23 USD
    assert round(change.before, 2) == Decimal("1067.24") and change.after == Decimal("856.23")


def test_markdown_comment():
    text = render_diff_markdown(diff_costs(costs(aws(2), ali("cn-old")), costs(aws(3))), "origin/main")
    assert text == (
        "## gpufleet cost change vs `origin/main`\n"
        "\n"
        "Monthly cost at the desired size (730 h/month). Total change: **-$316.86/month** (USD).\n"
        "\n"
        "| Stack | Before | After | Change | % |\n"
        "|---|---:|---:|---:|---:|\n"
        "| cn-old | ¥7,577.40 | — | -¥7,577.40 | removed |\n"
        "| prod-us | $1,606.61 | $2,356.99 | +$750.38 | +46.7% |\n"
        "\n"
        "### cn-old\n"
        "\n"
        "| Line item | Before | After | Change |\n"
        "|---|---:|---:|---:|\n"
        "| gpu pool: ecs.gn7i-c8g1.2xlarge (on-demand) | ¥7,110.20 | — | -¥7,110.20 |\n"
        "| managed Kubernetes control plane | ¥467.20 | — | -¥467.20 |\n"
        "\n"
        "### prod-us\n"
        "\n"
        "| Line item | Before | After | Change |\n"
        "|---|---:|---:|---:|\n"
        "| gpu pool: g5.xlarge (on-demand) | $1,468.76 | $2,203.14 | +$734.38 |\n"
        "| gpu pool: node disks (200 GB each) | $32.00 | $48.00 | +$16.00 |\n"
    )
    # total: +750.38 USD - 7577.40 / 7.10 (= 1067.2394...) USD = -316.8594... USD


def test_no_change_says_so():
    text = render_diff_markdown(diff_costs(costs(aws(2)), costs(aws(2))), "HEAD")
    assert text.endswith("| prod-us | $1,606.61 | $1,606.61 | $0.00 | 0.0% |\n\nNo cost change.\n")
