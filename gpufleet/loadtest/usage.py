"""Is the server's `usage` honest? A cross-check against what was actually streamed.

Token counts come only from the server's `usage` object (the client does not
know the model's tokenizer), so a server that claims 512 completion tokens
while it streamed two short chunks would inflate tokens/s and deflate cost
per token. Without the tokenizer the check can only be gross, so each bound
is far outside what any real model produces:

- every content chunk carries at least one token: chunks <= tokens (+1 slack);
- at most `MAX_TOKENS_PER_CHUNK` tokens per content chunk (vLLM sends one
  chunk per engine step: one token, or a few with speculative decoding);
- never more tokens than the request's `max_tokens`;
- characters per token within [`MIN_CHARS_PER_TOKEN`, `MAX_CHARS_PER_TOKEN`]
  once a response is long enough for a ratio to mean something. Real BPE
  tokenizers give ~4 chars/token for English and ~1-1.5 for Chinese; the
  worst cases (emoji, rare characters as byte tokens, whitespace runs) stay
  within 0.25-20.

A request that breaks a bound is re-labelled `usage_mismatch`: a failure of
its own kind, counted like any other failed request and named by the gate.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from gpufleet.loadtest.records import Outcome, RequestRecord

MAX_TOKENS_PER_CHUNK = 32
MIN_CHARS_PER_TOKEN = 0.1
MAX_CHARS_PER_TOKEN = 64.0
MIN_TOKENS_FOR_RATIO = 32  # below this a few special tokens (EOS, <think>) swing the ratio
MIN_CHARS_FOR_RATIO = 256


def usage_problem(record: RequestRecord) -> str | None:
    """Why this successful request's usage cannot be true, or None."""
    tokens = record.output_tokens
    if not record.ok or tokens is None:
        return None
    if record.max_tokens and tokens > record.max_tokens:
        return f"usage says {tokens} completion tokens, more than the {record.max_tokens} max_tokens asked for"
    if record.stream and record.ttft_ms is not None:
        chunks = len(record.chunk_gaps_ms) + 1
        if chunks > tokens + 1:
            return f"{chunks} content chunks streamed but usage says {tokens} completion tokens"
        if tokens > MAX_TOKENS_PER_CHUNK * chunks:
            return (f"usage says {tokens} completion tokens but only {chunks} content chunks were streamed "
                    f"(more than {MAX_TOKENS_PER_CHUNK} tokens per chunk)")
    chars = record.content_chars
    if chars is None:
        return None
    if tokens >= MIN_TOKENS_FOR_RATIO and chars < MIN_CHARS_PER_TOKEN * tokens:
        return (f"usage says {tokens} completion tokens but only {chars} characters of text arrived "
                f"({chars / tokens:.3f} per token; plausible: >= {MIN_CHARS_PER_TOKEN})")
    if chars >= MIN_CHARS_FOR_RATIO and chars > MAX_CHARS_PER_TOKEN * max(tokens, 1):
        return (f"{chars} characters of text arrived but usage says {tokens} completion tokens "
                f"(plausible: <= {MAX_CHARS_PER_TOKEN:g} characters per token)")
    return None


def cross_check(records: Iterable[RequestRecord]) -> list[RequestRecord]:
    """The records with every implausible usage re-labelled `usage_mismatch` (the rest unchanged)."""
    out = []
    for record in records:
        problem = usage_problem(record)
        out.append(record if problem is None else replace(record, outcome=Outcome.USAGE_MISMATCH, error=problem))
    return out
