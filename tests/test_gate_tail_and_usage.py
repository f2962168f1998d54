"""Tail objectives, the usage cross-check and a server that fails almost every request (pure, fast)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gpufleet.core.slo import SloSpec
from gpufleet.loadtest.gate import Verdict, evaluate
from gpufleet.loadtest.records import FIELDS, Outcome, RequestRecord
from gpufleet.loadtest.usage import usage_problem
from test_loadtest_gate import CLOSED, by_name, healthy, rec, stats_of

TAIL = CLOSED.model_copy(update={"itl_p99_ms": 150.0, "max_stall_ms": 2000.0, "e2e_p95_ms": 5000.0})


def test_one_long_freeze_fails_max_stall_while_averages_still_pass():
    records = [rec(i) for i in range(100)]
    records[7] = replace(records[7], chunk_gaps_ms=(100.0,) * 8 + (5000.0,))  # 1 of 100 requests froze for 5 s
    result = evaluate(stats_of(records, slo=TAIL), TAIL)
    checks = by_name(result)
    assert result.verdict is Verdict.FAIL and result.reason == "objectives missed: max_stall_ms"
    assert checks["max_stall_ms"].observed == 5000.0 and checks["itl_p99_ms"].passed and checks["tpot_p95_ms"].passed


def test_itl_p99_and_e2e_p95_are_judged():
    records = [replace(rec(i), chunk_gaps_ms=(100.0,) * 7 + (400.0, 400.0)) for i in range(100)]
    checks = by_name(evaluate(stats_of(records, slo=TAIL), TAIL))
    assert not checks["itl_p99_ms"].passed and checks["itl_p99_ms"].observed == 400.0
    assert checks["e2e_p95_ms"].passed and checks["e2e_p95_ms"].observed == 1000.0


def test_single_chunk_responses_have_nothing_to_stall():
    records = [replace(rec(i), chunk_gaps_ms=()) for i in range(100)]
    assert by_name(evaluate(stats_of(records, slo=TAIL), TAIL))["max_stall_ms"].observed == 0.0


def test_tail_keys_and_their_bounds_in_the_slo():
    slo = SloSpec.model_validate({"targetUsers": 1, "ttftP95Ms": 1, "itlP99Ms": 150, "maxStallMs": 2000,
                                  "e2eP95Ms": 12000})
    assert (slo.itl_p99_ms, slo.max_stall_ms, slo.e2e_p95_ms) == (150, 2000, 12000)
    with pytest.raises(ValueError, match="maxStallMs must be at most 3600000 milliseconds \\(one hour\\), got 4000000"):
        SloSpec.model_validate({"targetUsers": 1, "ttftP95Ms": 1, "maxStallMs": 4_000_000})


# ---------------------------------------------------------------- usage


def usage_rec(tokens: int, chunks: int, chars: int | None, max_tokens: int = 0, stream: bool = True) -> RequestRecord:
    return replace(rec(0), output_tokens=tokens, chunk_gaps_ms=(10.0,) * (chunks - 1), content_chars=chars,
                   max_tokens=max_tokens, stream=stream)


@pytest.mark.parametrize("record, problem", [
    (usage_rec(128, 128, 600), None),                      # English: ~4.7 chars per token
    (usage_rec(128, 128, 150), None),                      # Chinese: ~1.2 chars per token
    (usage_rec(130, 40, 600), None),                       # speculative decoding: a few tokens per chunk
    (usage_rec(3, 2, 1), None),                            # too short for a ratio
    (usage_rec(128, 128, None), None),                     # a record from before content_chars
    (usage_rec(512, 2, 12), "usage says 512 completion tokens but only 2 content chunks were streamed "
                            "(more than 32 tokens per chunk)"),
    (usage_rec(10, 20, 40), "20 content chunks streamed but usage says 10 completion tokens"),
    (usage_rec(300, 1, 0, max_tokens=256), "usage says 300 completion tokens, more than the 256 max_tokens asked for"),
    (usage_rec(500, 500, 20), "usage says 500 completion tokens but only 20 characters of text arrived "
                              "(0.040 per token; plausible: >= 0.1)"),
    (usage_rec(2, 2, 4000), "4000 characters of text arrived but usage says 2 completion tokens "
                            "(plausible: <= 64 characters per token)"),
    (usage_rec(512, 1, 10, stream=False), "usage says 512 completion tokens but only 10 characters of text arrived "
                                          "(0.020 per token; plausible: >= 0.1)"),
])
def test_usage_problem(record: RequestRecord, problem: str | None):
    assert usage_problem(record) == problem


def test_a_usage_mismatch_is_a_failure_kind_of_its_own_and_fails_the_gate():
    records = [rec(i) for i in range(100)]
    records[3] = replace(records[3], output_tokens=512, max_tokens=600)  # 10 chunks cannot hold 512 tokens
    stats = stats_of(records)
    result = evaluate(stats, CLOSED)
    assert stats.failures == {"usage_mismatch": 1} and stats.ok == 99
    assert result.verdict is Verdict.FAIL and "usage_mismatch" in result.reason


def test_record_rows_carry_content_chars_and_old_rows_still_load():
    record = replace(rec(1), content_chars=42)
    assert RequestRecord.from_row(record.to_row()) == record and FIELDS[-1] == "content_chars"
    assert RequestRecord.from_row(record.to_row()[:-1]).content_chars is None


# ---------------------------------------------------------------- a server failing everything


def failed(i: int, e2e: float = 3.0, outcome: Outcome = Outcome.HTTP_ERROR) -> RequestRecord:
    return replace(rec(i), outcome=outcome, ttft_ms=None, e2e_ms=e2e, chunk_gaps_ms=(), output_tokens=None,
                   status=429, error="HTTP 429")


def test_instant_failures_with_a_saturated_client_are_fail_not_invalid():
    stats = stats_of([failed(i) for i in range(100)], processes=healthy(cpu=0.97))
    result = evaluate(stats, CLOSED)
    assert result.verdict is Verdict.FAIL
    assert result.reason == ("the server failed almost every request: 100 of 100 answered with a failure within "
                             "1000 ms (http_error 100); the client limits it missed (client_cpu) were caused by them")
    assert by_name(result)["server_fast_failure_share"].observed == 1.0


@pytest.mark.parametrize("records, verdict", [
    ([failed(i, e2e=30_000.0, outcome=Outcome.TIMEOUT) for i in range(100)], Verdict.INVALID),  # slow: maybe us
    ([failed(i) for i in range(15)], Verdict.INVALID),                                         # too few to say
    ([failed(i) for i in range(89)] + [rec(i) for i in range(89, 100)], Verdict.INVALID),      # 89%: not "almost all"
])
def test_the_override_needs_many_fast_server_answered_failures(records, verdict):
    assert evaluate(stats_of(records, processes=healthy(cpu=0.97)), CLOSED).verdict is verdict
