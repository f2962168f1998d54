"""The summary table and the HTML report, built from the audit log of a promotion (Prometheus stubbed)."""

from __future__ import annotations

from pathlib import Path

from gpufleet.core.promotion_config import PromotionConfig
from gpufleet.promote.report import markers, render
from gpufleet.promote.summary import summary_lines
from test_promote_machine_analysis import AnalysedRun, with_fault


def test_the_summary_marks_values_out_of_bounds(tmp_path: Path) -> None:
    run = AnalysedRun(tmp_path, with_fault("ttft_p95_ms", 400.0, from_share=50))
    lines = summary_lines(run.events)
    assert lines[0] == "analysis summary (candidate value/bound per iteration; * = out of bounds, - = no data):"
    assert lines[1].split() == ["step", "share", "iter", "verdict", "requests", "errors", "TTFT", "p95", "ms", "TPOT",
                                "p95", "ms", "e2e", "p95", "ms", "queue", "KV", "cache"]
    assert lines[2].split()[:6] == ["1", "10%", "1", "pass", "30", "0.0000/0.0050"]
    assert "400/72*" in lines[-1] and lines[-1].split()[:4] == ["2", "50%", "2", "fail"]
    assert len(lines) == 2 + 5


def test_the_report_marks_steps_and_rollbacks_without_prometheus(tmp_path: Path) -> None:
    run = AnalysedRun(tmp_path, with_fault("ttft_p95_ms", 400.0, from_share=50))
    html = render(run.events, None, PromotionConfig.model_validate({"intervalS": 10}))
    assert html.count("<svg") == 7
    for text in ("10%", "50%", "rollback", "gate", "rolled-back", "iteration not passed",
                 "ttft_p95_ms 400.0 ms &gt; 72.0 ms (baseline 60.0 ms x 1.2)", "namespace=&#34;llm-green&#34;"):
        assert text in html, text
    labels = [rule.label for rule in markers(run.events, 0.0)]
    assert labels == ["start", "gate", "10%", "50%", "rollback"]


def test_markers_at_the_same_moment_share_one_label(tmp_path: Path) -> None:
    run = AnalysedRun(tmp_path, with_fault("ttft_p95_ms", 400.0, from_share=50))
    labels = [rule.label for rule in markers(run.events, 0.0, merge_within_s=3600.0)]
    assert labels == ["start, gate, 10%, 50%, rollback"]
