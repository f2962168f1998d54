"""`gpufleet plan` end to end with a fake replica (the real sweep is in test_plan_e2e.py)."""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import pytest

from gpufleet.commands import plan as plan_cmd
from gpufleet.commands import plan_run
from conftest import ROOT as PROJECT_ROOT
from gpufleet.plan.simprofile import choose_profile
from gpufleet.plan.sweep import FAIL, INVALID, PASS, Point


class FakeMeasure:
    """A replica that passes up to `knee` req/s; the client saturates from `invalid_from`."""

    knee = 36.0
    invalid_from: float | None = None
    invalid_band: tuple[float, float] | None = None

    def __init__(self, url, model, slo, settings, *, allow_remote=False, on_point=None, runner=None):
        self.on_point = on_point

    def __call__(self, rate, phase):
        band = self.invalid_band
        if (self.invalid_from is not None and rate >= self.invalid_from) or (band and band[0] <= rate <= band[1]):
            point = Point(rate, INVALID, "measurement not valid: client_cpu", phase, invalid_kind="client",
                          advice="Add Locust workers: --processes 2 (or more).")
        else:
            verdict = PASS if rate <= self.knee else FAIL
            point = Point(rate, verdict, verdict, phase, ttft_p95_ms=100 + rate, tpot_p95_ms=20 + rate / 10,
                          output_tokens_per_s=rate * 125, achieved_rate=rate, wall_s=0.1)
        if self.on_point:
            self.on_point(point)
        return point


@contextlib.contextmanager
def fake_target(args, cfg, release):
    yield {"kind": "simulator", "url": "http://127.0.0.1:9", "profile": "l40s-48gb-llama-3.1-8b",
           "rehearsal": True, "replicas_behind": 1, "model": "m"}


@pytest.fixture
def root(tmp_path, monkeypatch):
    shutil.copytree(PROJECT_ROOT / "stacks", tmp_path / "stacks")
    shutil.copy(PROJECT_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    monkeypatch.setattr(plan_run, "GateMeasure", FakeMeasure)
    monkeypatch.setattr(plan_run, "target", fake_target)
    monkeypatch.setattr(FakeMeasure, "invalid_from", None)
    monkeypatch.setattr(FakeMeasure, "invalid_band", None)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def plan(root: Path, *extra: str) -> int:
    return plan_cmd.main(["--stack", "prod-us-east-1", "--release", "blue", "--root", str(root),
                          "--start-rps", "8", "--quiet", *extra])


def test_prints_the_plan_and_writes_json_and_html(root, capsys):
    code = plan(root, "--peak-rps", "40", "--avg-rps", "20", "--json", str(root / "p.json"),
                "--html", str(root / "p.html"))
    out = capsys.readouterr().out
    assert code == 0
    assert "a REHEARSAL, not a measurement of the release" in out
    assert "replicas: min 2, max 3 (average needs 1, peak 2 with 30% headroom; redundancy zone over 3 zones)" in out
    assert "gpuPool: minSize 3, desiredSize 3, maxSize 6" in out
    assert "limits: Karpenter NodePool limits nvidia.com/gpu: 6 (gpuPool.maxSize 6); release minReplicas 2, " \
           "maxReplicas 3" in out
    assert "cost (USD/month, whole stack):" in out and "cost per 1M output tokens: knee" in out
    doc = json.loads((root / "p.json").read_text())
    assert doc["schema"] == "gpufleet.plan/v1" and doc["sweep"]["outcome"] == "knee"
    assert doc["knee"]["rps_per_replica"] <= 36 < doc["sweep"]["upper_rps"]
    assert doc["limits"]["release"] == {"replicas": 2, "minReplicas": 2, "maxReplicas": 3}
    assert {c["key"] for c in doc["stack_changes"]} >= {"gpufleet:gpuPool.maxSize", "gpufleet:releases.blue.replicas"}
    assert doc["written"] is False and doc["refused"] is None
    html = (root / "p.html").read_text()
    assert html.count("<svg") == 3 and "Rehearsal." in html and "Monthly cost at peak" in html
    assert "<script" not in html
    assert (root / "stacks" / "Pulumi.prod-us-east-1.yaml").read_bytes() == \
        (PROJECT_ROOT / "stacks" / "Pulumi.prod-us-east-1.yaml").read_bytes()  # not written without --write


def test_reports_go_under_out_by_default(root, capsys):
    assert plan(root, "--peak-rps", "40") == 0
    assert "wrote out/plan-prod-us-east-1-blue.json and out/plan-prod-us-east-1-blue.html" in capsys.readouterr().out
    assert json.loads((root / "out" / "plan-prod-us-east-1-blue.json").read_text())["release"] == "blue"
    assert (root / "out" / "plan-prod-us-east-1-blue.html").read_text().startswith("<!DOCTYPE html>")


def test_saturated_client_exits_3_without_a_knee(root, capsys, monkeypatch):
    monkeypatch.setattr(FakeMeasure, "invalid_from", 30.0)
    code = plan(root, "--peak-rps", "40", "--json", str(root / "p.json"))
    out = capsys.readouterr().out
    assert code == 3
    assert "no knee: the point at 32 req/s is invalid" in out and "--processes 2" in out
    doc = json.loads((root / "p.json").read_text())
    assert doc["knee"] is None and doc["fleet"] is None and doc["cost"] is None


def test_invalid_point_in_the_bisection_plans_on_the_lower_bound_but_never_writes(root, capsys, monkeypatch):
    monkeypatch.setattr(FakeMeasure, "invalid_band", (37.0, 39.0))
    code = plan(root, "--peak-rps", "40", "--write", "--json", str(root / "p.json"))
    captured = capsys.readouterr()
    assert code == 3
    assert "knee: 36 req/s per replica, 4500 output tokens/s (a lower bound: the plan is conservative)" in captured.out
    assert "the point at 38 req/s is invalid" in captured.out and "--processes 2" in captured.out
    assert "refused: not written: the sweep ended on an invalid point" in captured.err
    assert json.loads((root / "p.json").read_text())["sweep"]["outcome"] == "partial"
    assert (root / "stacks" / "Pulumi.prod-us-east-1.yaml").read_bytes() == \
        (PROJECT_ROOT / "stacks" / "Pulumi.prod-us-east-1.yaml").read_bytes()


def test_refused_plan_exits_1_with_one_line(root, capsys):
    code = plan(root, "--peak-rps", "400000", "--write")
    captured = capsys.readouterr()
    assert code == 1
    lines = [l for l in captured.err.splitlines() if l.startswith("refused:")]
    assert len(lines) == 1 and "more than one EKS cluster may hold (5000" in lines[0]
    assert (root / "stacks" / "Pulumi.prod-us-east-1.yaml").read_bytes() == \
        (PROJECT_ROOT / "stacks" / "Pulumi.prod-us-east-1.yaml").read_bytes()


def test_write_shows_the_diff_and_writes_a_stack_that_previews(root, capsys):
    code = plan(root, "--peak-rps", "40", "--avg-rps", "20", "--write")
    out = capsys.readouterr().out
    assert code == 0
    assert "--- a/Pulumi.prod-us-east-1.yaml" in out and "+    maxSize: 6" in out
    text = (root / "stacks" / "Pulumi.prod-us-east-1.yaml").read_text()
    assert "    maxSize: 6\n" in text and "      maxReplicas: 3\n" in text
    from gpufleet.core.config import load_stack
    assert load_stack("prod-us-east-1", root=root).releases["blue"].max_replicas == 3


@pytest.mark.parametrize("argv, message", [
    (["--peak-rps", "40", "--avg-rps", "50"], "error: --avg-rps (50) must not exceed --peak-rps (40)"),
    (["--peak-rps", "0"], "error: --peak-rps must be > 0, got 0"),
    (["--peak-rps", "40", "--host", "http://127.0.0.1:1", "--local"], "error: give either --host or --local, not both"),
    (["--peak-rps", "40", "--headroom", "-0.1"],
     "error: --headroom is a share of a replica's knee between 0 and 4 (0.3 = 30%), got -0.1"),
])
def test_usage_errors(root, capsys, argv, message):
    assert plan(root, *argv) == 2
    assert capsys.readouterr().err.strip() == message


def test_unknown_release_names_the_choices(root, capsys):
    code = plan_cmd.main(["--stack", "prod-us-east-1", "--release", "purple", "--peak-rps", "4", "--root", str(root)])
    assert code == 2
    assert capsys.readouterr().err.strip() == \
        "error: stack 'prod-us-east-1': gpufleet:releases: no release 'purple' (allowed: blue, green)"


def test_simulator_profile_follows_the_release_gpu():
    assert choose_profile("s", "blue", "L40S-48GB", 1, 7_615_616_512).name == "l40s-48gb-llama-3.1-8b"
    assert choose_profile("s", "blue", "A10G-24GB", 1, 7_615_616_512).name == "a10-24gb-llama-3.1-8b"
    assert choose_profile("s", "blue", "A100-80GB", 4, 72_000_000_000).name == "a100-80gb-x4-llama-3.1-70b"
    with pytest.raises(ValueError) as exc:
        choose_profile("prod-eu-central-1", "blue", "L40S-48GB", 2, 32_000_000_000)
    assert str(exc.value).startswith("stack 'prod-eu-central-1': release 'blue' runs on 2x L40S-48GB and no "
                                     "simulator profile does (profiles: a10-24gb-llama-3.1-8b (1x A10-24GB), ")
    assert str(exc.value).endswith("; pick one with --sim-profile NAME")


def test_registered_in_the_cli():
    from gpufleet.cli import build_parser

    args = build_parser().parse_args(["plan", "--stack", "s", "--release", "r", "--peak-rps", "1"])
    assert args.func is plan_cmd.run and args.redundancy == "zone" and args.headroom == 0.3
