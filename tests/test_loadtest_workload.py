"""Workloads: exact prompt lengths under the shared tokenizer, seeded draws, clear catalog errors."""

from __future__ import annotations

import random
import statistics
from pathlib import Path

import pytest

from common.workload import (
    CatalogError,
    LengthDist,
    load_catalog,
    overhead_tokens,
    parse_catalog,
    prompt_tokens_of,
    take_tokens,
)
from gpufleet.tokens import count_tokens, tokenize  # noqa: E402

PROMPTS = Path(__file__).resolve().parents[1] / "loadtests" / "prompts"


def test_the_shipped_catalog_has_the_three_workloads_and_a_mix():
    catalog = load_catalog()
    assert catalog.names == ["chinese_chat", "completions", "long_context", "mixed", "short_chat"]


@pytest.mark.parametrize("name", ["short_chat", "long_context", "chinese_chat", "completions", "mixed"])
def test_every_prompt_has_exactly_the_drawn_number_of_tokens(name):
    sampler = load_catalog().sampler(name, "my-model", random.Random(7))
    for _ in range(60):
        plan = sampler.next()
        assert prompt_tokens_of(plan) == plan.input_tokens
        assert plan.body["model"] == "my-model" and plan.body["max_tokens"] == plan.max_tokens


def test_lengths_follow_the_configured_distribution_and_bounds():
    sampler = load_catalog().sampler("short_chat", "m", random.Random(1))
    plans = [sampler.next() for _ in range(400)]
    inputs = [p.input_tokens for p in plans]
    outputs = [p.max_tokens for p in plans]
    assert 64 <= min(inputs) and max(inputs) <= 512
    assert 240 <= statistics.mean(inputs) <= 272  # normal(256, 64)
    assert 16 <= min(outputs) and max(outputs) <= 256
    assert 120 <= statistics.mean(outputs) <= 136  # normal(128, 32)


def test_the_same_seed_gives_the_same_requests():
    def draw(seed):
        sampler = load_catalog().sampler("mixed", "m", random.Random(seed))
        return [sampler.next() for _ in range(20)]

    assert draw("0:w1:0:requests") == draw("0:w1:0:requests")
    assert draw("0:w1:0:requests") != draw("0:w1:1:requests")
    assert {p.workload for p in draw(3)} <= {"short_chat", "chinese_chat", "long_context"}


def test_streamed_chat_requests_ask_for_usage_and_exact_output():
    plan = load_catalog().sampler("chinese_chat", "m", random.Random(2)).next()
    assert plan.path == "/v1/chat/completions" and plan.stream
    assert plan.body["stream_options"] == {"include_usage": True}
    assert plan.body["min_tokens"] == plan.body["max_tokens"] and plan.body["ignore_eos"] is True
    system = {"role": "system", "content": "你是一个乐于助人的助手，请用简洁的中文回答。"}
    assert plan.body["messages"][0] == system
    user = plan.body["messages"][1]["content"]
    assert sum(1 for ch in user if "\u4e00" <= ch <= "\u9fff") > len(user) / 2


def test_long_context_puts_the_question_last():
    plan = load_catalog().sampler("long_context", "m", random.Random(3)).next()
    assert 2048 <= plan.input_tokens <= 6144
    last_line = plan.body["messages"][-1]["content"].rsplit("\n", 1)[-1]
    assert last_line in (PROMPTS / "long_instructions.txt").read_text().splitlines()


def test_take_tokens_wraps_around_without_merging_tokens():
    tokens = tuple(tokenize("alpha beta gamma."))
    assert take_tokens(tokens, 2, 5) == "gamma.\nalpha beta gamma"
    assert take_tokens(tokens, 3, 9) == ".\nalpha beta gamma.\nalpha beta gamma."
    assert count_tokens(take_tokens(tokens, 3, 9)) == 9


def test_length_distributions():
    rng = random.Random(0)
    assert LengthDist(dist="constant", mean=64, min=1, max=100).sample(rng) == 64
    assert LengthDist(dist="constant", mean=640, min=1, max=100).sample(rng) == 100
    lognormal = LengthDist(dist="lognormal", mean=400, stddev=300, min=1, max=100000)
    draws = [lognormal.sample(rng) for _ in range(4000)]
    assert 370 <= statistics.mean(draws) <= 430
    with pytest.raises(ValueError, match="min \\(9\\) must not exceed max \\(3\\)"):
        LengthDist(dist="uniform", min=9, max=3)
    with pytest.raises(ValueError, match="a normal distribution needs 'stddev' >= 0"):
        LengthDist(dist="normal", mean=5, min=1, max=9)


def spec(**overrides):
    entry = {"description": "d", "corpus": "en_passages", "instructions": "en_instructions",
             "input_tokens": {"dist": "constant", "mean": 50, "min": 40, "max": 60},
             "output_tokens": {"dist": "constant", "mean": 8, "min": 1, "max": 8}}
    entry.update(overrides)
    return {"workloads": {"w": entry}}


def test_catalog_errors_name_the_workload_and_the_problem():
    with pytest.raises(CatalogError, match=r"^workload 'w': prompt file nope\.txt not found in "):
        parse_catalog(spec(corpus="nope"), PROMPTS)
    with pytest.raises(CatalogError, match=r"^workload 'w': endpoint: Input should be 'chat' or 'completions'$"):
        parse_catalog(spec(endpoint="embeddings"), PROMPTS)
    floor = overhead_tokens(parse_catalog(spec(), PROMPTS).entry("w")) + 1
    with pytest.raises(CatalogError, match=(
            rf"^workload 'w': input_tokens.min is 2, but the chat template and system prompt alone take "
            rf"{floor - 1} tokens; raise it to at least {floor}$")):
        parse_catalog(spec(input_tokens={"dist": "constant", "mean": 50, "min": 2, "max": 60}), PROMPTS)
    with pytest.raises(CatalogError, match=r"^workload 'm': mix refers to 'ghost', which is not a plain workload$"):
        parse_catalog({"workloads": {"m": {"description": "x", "mix": {"ghost": 1}}}}, PROMPTS)
    with pytest.raises(CatalogError, match=r"^unknown workload 'x'; known: w$"):
        parse_catalog(spec(), PROMPTS).entry("x")
    with pytest.raises(CatalogError, match=r"^workloads file must be a mapping with a 'workloads' mapping$"):
        parse_catalog([], PROMPTS)
