"""`gpufleet cost` end to end, with stand-ins for gpufleet.core.config / gpufleet.core.cost_inputs.

The stand-ins read a tiny stack format so these tests pin the command's own
behaviour (formats, --output, --loadtest, --diff against a real git repo, exit
codes) independently of the stack schema.
"""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from conftest import scratch_project
from gpufleet.cli import build_parser
from gpufleet.commands import cost as cost_cmd
from gpufleet.core.cost import CostInputs, NodePoolInputs
from gpufleet.core.errors import StackConfigError

FIXTURES = Path(__file__).parent / "fixtures" / "prices"
CATALOG = FIXTURES / "catalog"

US = {"cloud": "aws", "region": "us-east-1", "currency": "USD", "gpu": "g5.xlarge", "gpus": 2}
CN = {"cloud": "alicloud", "region": "cn-hangzhou", "currency": "CNY", "gpu": "ecs.gn7i-c8g1.2xlarge", "gpus": 1}


def write_stack(root: Path, name: str, spec: dict) -> None:
    (root / "stacks").mkdir(parents=True, exist_ok=True)
    (root / "stacks" / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump({"config": spec}))


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A project root with two stacks, and the command wired to read it."""
    write_stack(tmp_path, "prod-us", US)
    write_stack(tmp_path, "cn-prod", CN)

    def load_stack(name: str, text: str | None = None):
        if text is None:
            path = tmp_path / "stacks" / f"Pulumi.{name}.yaml"
            if not path.exists():
                raise StackConfigError(name, "stack", f"no stack file {path.name}")
            text = path.read_text()
        return name, yaml.safe_load(text)["config"]

    def list_stacks():
        return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in (tmp_path / "stacks").glob("Pulumi.*.yaml"))

    def cost_inputs_for(cfg):
        name, c = cfg
        return CostInputs(
            stack=name, cloud=c["cloud"], region=c["region"], jurisdiction="cn" if c["cloud"] == "alicloud" else "global",
            billing_currency=c["currency"], node_pools=(NodePoolInputs("gpu", c["gpu"], "on-demand", c["gpus"], 4, 0),),
        )

    monkeypatch.setattr(cost_cmd, "_config_functions", lambda: (load_stack, list_stacks, cost_inputs_for))
    scratch_project(tmp_path)  # the project-wide FX rate comes from its Pulumi.yaml
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*argv: str) -> int:
    args = build_parser().parse_args(["cost", "--prices", str(CATALOG), *argv])
    return args.func(args)


def test_csv_to_a_file(repo, capsys):
    out = repo / "cost.csv"
    assert run("--format", "csv", "--output", str(out)) == 0
    assert capsys.readouterr().err == f"gpufleet cost: wrote {out}\n"
    lines = out.read_text().splitlines()
    assert lines[0].startswith("stack,cloud,region,billing_currency,key,resource")
    # cn-prod sorts first (list_stacks order); gpu: 9.74 x 730 = 7110.20 CNY = 1001.44 USD
    assert lines[1].startswith("cn-prod,alicloud,cn-hangzhou,CNY,pool:gpu:instances,")
    assert ",7110.20,38.9600,28440.80,1001.44,4005.75,true," in lines[1]


def test_json_with_a_load_test_for_one_stack(repo, capsys):
    import json

    assert run("--format", "json", "--stack", "prod-us", "--loadtest", f"prod-us={FIXTURES / 'loadtest_pass.json'}") == 0
    data = json.loads(capsys.readouterr().out)
    (stack,) = data["stacks"]
    # (2 x 1.006 + 0.10) = 2.112 USD/h; 500 tokens/s -> 2.112 / 1.8 = 1.1733 USD per 1M tokens
    assert stack["stack"] == "prod-us" and stack["per_million_output_tokens"]["per_million"] == "1.1733"
    assert data["total_usd"]["desired"]["monthly"] == "1541.76"  # 2.112 x 730


def test_table_is_the_default(repo, capsys):
    assert run() == 0
    out = capsys.readouterr().out
    assert "prod-us" in out and "cn-prod" in out and "Total (USD)" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["--loadtest", "prod-us"], "gpufleet cost: --loadtest must be STACK=PATH; got 'prod-us'\n"),
    (["--loadtest", "nope=x.json"], "gpufleet cost: --loadtest names stack 'nope', which is not in this report (stacks: cn-prod, prod-us)\n"),
    (["--cny-per-usd", "7.2"], "gpufleet cost: --cny-per-usd and --fx-as-of go together (a rate always carries its date)\n"),
    (["--diff", "HEAD", "--from-deployed"], "gpufleet cost: --diff compares stack files; it cannot be combined with --from-deployed\n"),
    (["--diff", "HEAD", "--format", "csv"], "gpufleet cost: --diff renders a markdown comment; use --format markdown (or leave --format out)\n"),
])
def test_bad_arguments_exit_2_with_one_line(repo, capsys, argv, message):
    assert run(*argv) == 2
    assert capsys.readouterr().err == message


def test_fx_override_is_used_with_its_date(repo, capsys):
    import json

    assert run("--format", "json", "--stack", "cn-prod", "--cny-per-usd", "7.30", "--fx-as-of", "2026-12-01") == 0
    (stack,) = json.loads(capsys.readouterr().out)["stacks"]
    assert stack["fx"] == {"cny_per_usd": "7.30", "as_of": "2026-12-01", "source": "command line (--cny-per-usd)"}
    # (9.74 + 0.64) x 730 = 7577.40 CNY / 7.30 = 1038.0000 USD
    assert stack["totals"]["USD"]["desired"]["monthly"] == "1038.00"


def test_missing_price_exits_1_naming_stack_type_and_region(repo, capsys):
    write_stack(repo, "prod-us", {**US, "gpu": "g6e.xlarge"})
    assert run("--stack", "prod-us") == 1
    assert capsys.readouterr().err == (
        "gpufleet cost: stack 'prod-us': instance type g6e.xlarge is not offered in us-east-1 "
        "(aws; no on-demand price in this region)\n"
    )


def test_from_deployed_without_the_pulumi_cli_exits_2(repo, capsys, monkeypatch):
    monkeypatch.setattr(cost_cmd.shutil, "which", lambda name: None)
    assert run("--from-deployed") == 2
    assert capsys.readouterr().err == "gpufleet cost: --from-deployed needs the Pulumi CLI (pulumi not found on PATH)\n"


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.test", *args], cwd=root, check=True,
                   capture_output=True)


def test_diff_against_a_git_revision(repo, capsys):
    git(repo, "init", "-q")
    git(repo, "add", "stacks")
    git(repo, "commit", "-q", "-m", "stacks")
    write_stack(repo, "prod-us", {**US, "gpus": 3})  # uncommitted: one more GPU node
    (repo / "stacks" / "Pulumi.cn-prod.yaml").unlink()  # and a stack removed
    write_stack(repo, "dev-eu", {**US, "region": "eu-central-1", "gpus": 1})  # and one added
    assert run("--diff", "HEAD") == 0
    text = capsys.readouterr().out
    assert text.startswith("## gpufleet cost change vs `HEAD`\n")
    assert "| prod-us | $1,541.76 | $2,276.14 | +$734.38 | +47.6% |" in text  # 1.006 x 730 = 734.38
    assert "| cn-prod | ¥7,577.40 | — | -¥7,577.40 | removed |" in text
    assert "| dev-eu | — | $991.34 | +$991.34 | new |" in text  # (1.258 + 0.10) x 730
    # total: 734.38 + 991.34 - 7577.40 / 7.10 (1067.2394) = 658.4806 USD
    assert "Total change: **+$658.48/month** (USD)." in text


def test_diff_with_an_unknown_revision_exits_2(repo, capsys):
    git(repo, "init", "-q")
    assert run("--diff", "no-such-rev") == 2
    err = capsys.readouterr().err
    assert err.startswith("gpufleet cost: git ls-tree --name-only no-such-rev stacks/: fatal: ") and err.count("\n") == 1


def test_stack_names_from_a_listing():
    from gpufleet.cost.gitrev import stack_names_from_listing

    listing = "stacks/Pulumi.prod-us.yaml\nstacks/README.md\nstacks/Pulumi.yaml\nstacks/Pulumi.cn-prod.yaml\n"
    assert stack_names_from_listing(listing) == ["cn-prod", "prod-us"]


def test_loadtest_arguments_parse():
    assert cost_cmd.parse_loadtest_args(["a=r1.json", "b=dir/r2.json"]) == {"a": Path("r1.json"), "b": Path("dir/r2.json")}
    with pytest.raises(cost_cmd.CannotRun) as exc:
        cost_cmd.parse_loadtest_args(["a=1.json", "a=2.json"])
    assert str(exc.value) == "--loadtest given twice for stack 'a'"


def test_fx_override_rejects_a_bad_date():
    with pytest.raises(cost_cmd.CannotRun) as exc:
        cost_cmd.fx_from_args("7.2", "yesterday", CATALOG)
    assert str(exc.value) == "--fx-as-of must be a date like 2026-11-01; got 'yesterday'"
    assert cost_cmd.fx_from_args("7.2", "2026-12-01", CATALOG).cny_per_usd == Decimal("7.2")


def test_from_deployed_reads_each_stacks_cost_output(repo, capsys, monkeypatch):
    import json

    from pulumi import automation as auto

    from gpufleet.core.cost import compute_stack_cost, load_fx, load_price_catalog, stack_cost_outputs

    catalog, fx = load_price_catalog(CATALOG), load_fx(CATALOG / "fx.yaml")
    exported = {
        name: stack_cost_outputs(compute_stack_cost(
            CostInputs(stack=name, cloud="aws", region="us-east-1", jurisdiction="global", billing_currency="USD",
                       node_pools=(NodePoolInputs("gpu", "g5.xlarge", "on-demand", n, 4, 0),)),
            catalog, fx))
        for name, n in (("prod-us", 1), ("cn-prod", 2))
    }
    seen = []

    class FakeStack:
        def __init__(self, name):
            self.name = name

        def outputs(self):
            return {"cost": auto.OutputValue(exported[self.name], False)}

    def select_stack(stack_name, work_dir):
        seen.append((stack_name, work_dir))
        return FakeStack(stack_name)

    monkeypatch.setattr(cost_cmd.shutil, "which", lambda name: "/usr/local/bin/pulumi")
    monkeypatch.setattr(auto, "select_stack", select_stack)
    assert run("--from-deployed", "--format", "json") == 0
    data = json.loads(capsys.readouterr().out)
    assert seen == [("cn-prod", str(repo)), ("prod-us", str(repo))]
    # (2 x 1.006 + 0.10) x 730 = 1541.76 and (1.006 + 0.10) x 730 = 807.38
    assert [s["totals"]["USD"]["desired"]["monthly"] for s in data["stacks"]] == ["1541.76", "807.38"]


def test_from_deployed_without_a_cost_output_exits_1(repo, capsys, monkeypatch):
    from pulumi import automation as auto

    monkeypatch.setattr(cost_cmd.shutil, "which", lambda name: "/usr/local/bin/pulumi")
    monkeypatch.setattr(auto, "select_stack", lambda stack_name, work_dir: type("S", (), {"outputs": lambda self: {}})())
    assert run("--from-deployed", "--stack", "prod-us") == 1
    assert capsys.readouterr().err == "gpufleet cost: stack 'prod-us' has no 'cost' output (run pulumi up first)\n"
