"""Load tests of an OpenAI-compatible LLM endpoint and the SLO gate that judges them.

The Locust scenarios live in the repository's `loadtests/` tree; this package
holds what must not depend on Locust: the per-request record, exact
statistics, the SLO model, the gate, the subprocess runner and the report
writers. The public API for other commands (e.g. `gpufleet promote`)::

    from gpufleet.loadtest import SloSpec, run_gate, evaluate, Verdict

    report = run_gate("http://127.0.0.1:8000", None, slo)
    if report.gate.allows_traffic: ...   # only a `pass` verdict allows it
"""

from gpufleet.loadtest.gate import Check, GateResult, Verdict, evaluate
from gpufleet.loadtest.report import LoadTestReport
from gpufleet.loadtest.session import judge_run, run_gate
from gpufleet.core.slo import SloSpec, with_load

__all__ = [
    "Check",
    "GateResult",
    "LoadTestReport",
    "SloSpec",
    "Verdict",
    "evaluate",
    "judge_run",
    "run_gate",
    "with_load",
]
