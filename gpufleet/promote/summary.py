"""The table printed at the end of a promotion: every analysis iteration, value against bound.

Built from the audit log's `analysis` events only, so the table printed at
the end, the HTML report and a later `jq` over the log can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

COLUMNS = (("error_ratio", "errors", 4), ("ttft_p95_ms", "TTFT p95 ms", 0), ("tpot_p95_ms", "TPOT p95 ms", 1),
           ("e2e_p95_ms", "e2e p95 ms", 0), ("queue_per_replica", "queue", 1), ("kv_cache_usage", "KV cache", 2))


def _cell(check: Mapping[str, Any] | None, digits: int) -> str:
    if check is None or check.get("value") is None:
        return "-"
    value, bound = check["value"], check.get("bound")
    text = f"{value:.{digits}f}" if value != float("inf") else "inf"
    if bound is not None:
        text += f"/{bound:.{digits}f}"
    return text + ("*" if check.get("verdict") == "fail" else "")


def rows(events: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    out = []
    for e in events:
        if e.get("event") != "analysis":
            continue
        checks = {c["name"]: c for c in e.get("checks") or []}
        requests = e.get("requests")
        out.append([str(e.get("step")), f"{e.get('share')}%", str(e.get("iteration")), str(e.get("verdict")),
                    "-" if requests is None else f"{requests:.0f}",
                    *(_cell(checks.get(name), digits) for name, _, digits in COLUMNS)])
    return out


def summary_lines(events: Sequence[Mapping[str, Any]]) -> list[str]:
    """Aligned plain-text lines (they go to logs and CI output, not only terminals)."""
    body = rows(events)
    if not body:
        return ["analysis summary: no step was analysed on live traffic"]
    header = ["step", "share", "iter", "verdict", "requests", *(title for _, title, _ in COLUMNS)]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = ["analysis summary (candidate value/bound per iteration; * = out of bounds, - = no data):"]
    lines += ["  " + fmt.format(*header).rstrip()] + ["  " + fmt.format(*r).rstrip() for r in body]
    return lines
