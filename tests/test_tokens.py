"""The shared deterministic tokenizer (gpufleet.tokens)."""

from __future__ import annotations

import random

import pytest

from gpufleet.tokens import (
    CHAT_TOKENS_PER_MESSAGE,
    CHAT_TOKENS_REPLY_PRIMER,
    OUTPUT_VOCAB,
    count_chat_tokens,
    count_tokens,
    tokenize,
)


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", []),
        ("   \n\t", []),
        ("Hello, world!", ["Hello", ",", " world", "!"]),
        ("你好，世界。", ["你", "好", "，", "世", "界", "。"]),
        ("GPU集群 on ACK", ["GPU", "集", "群", " on", " ACK"]),
        ("internationalization", ["internat", "ionaliza", "tion"]),
        ("abc123def", ["abc123de", "f"]),
        ("abcdefgh", ["abcdefgh"]),
        ("hi  ", ["hi  "]),
        ("  leading", ["  leading"]),
        ("a\n\nb", ["a", "\n\nb"]),
        ("カタカナ한국어", ["カ", "タ", "カ", "ナ", "한", "국", "어"]),
        ("ＡＢＣ", ["Ａ", "Ｂ", "Ｃ"]),
        ("café", ["caf", "é"]),
        ("x=1+2;", ["x", "=", "1", "+", "2", ";"]),
        ("👍 ok", ["👍", " ok"]),
    ],
)
def test_tokenize_examples(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens
    assert count_tokens(text) == len(tokens)


def test_join_is_lossless_when_text_has_a_token() -> None:
    samples = ["  mixed 中文 and English, 123456789012 \n", "末尾空格  ", "x"]
    for text in samples:
        assert "".join(tokenize(text)) == text


def test_long_runs_split_every_eight_characters() -> None:
    assert count_tokens("a" * 8) == 1
    assert count_tokens("a" * 9) == 2
    assert count_tokens("a" * 64) == 8
    assert count_tokens("7" * 17) == 3


def test_count_matches_tokenize_on_random_text() -> None:
    rng = random.Random(11)
    alphabet = "ab9 Z,.\n你好。ｶ한-"
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        assert count_tokens(text) == len(tokenize(text))


def test_output_vocab_entries_are_single_tokens_and_unique() -> None:
    assert len(OUTPUT_VOCAB) == len(set(OUTPUT_VOCAB)) > 300
    assert all(count_tokens(entry) == 1 for entry in OUTPUT_VOCAB)
    assert " the" in OUTPUT_VOCAB and "的" in OUTPUT_VOCAB and "。" in OUTPUT_VOCAB


def test_output_vocab_concatenations_keep_their_token_count() -> None:
    rng = random.Random(5)
    for n in (1, 2, 17, 500):
        picked = rng.choices(OUTPUT_VOCAB, k=n)
        text = "".join(picked)
        assert count_tokens(text) == n
        assert tokenize(text) == picked


def test_count_chat_tokens_adds_template_overhead() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "你好 world"},
    ]
    # system: 1 role + 3 content ("Be", " brief", "."), user: 1 role + 3 content
    expected = CHAT_TOKENS_REPLY_PRIMER + 2 * CHAT_TOKENS_PER_MESSAGE + (1 + 3) + (1 + 3)
    assert count_chat_tokens(messages) == expected == 14


def test_count_chat_tokens_accepts_text_parts_and_empty_content() -> None:
    parts = [{"role": "user", "content": [{"type": "text", "text": "a b"}, {"type": "text", "text": " c"}]}]
    assert count_chat_tokens(parts) == 2 + 2 + 1 + 3
    # "assistant" has 9 letters: "assistan" + "t"
    assert count_chat_tokens([{"role": "assistant", "content": None}]) == 2 + 2 + 2


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ([{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}], "only text content parts are supported"),
        ([{"content": "hi"}], "each message needs a string 'role'"),
        (["hi"], "each message must be an object"),
        ([{"role": "user", "content": 3}], "message content must be a string or a list of text parts"),
        ([{"role": "user", "content": [{"type": "text", "text": 1}]}], "a text content part needs a string 'text'"),
    ],
)
def test_count_chat_tokens_rejects_bad_messages(messages: list[object], message: str) -> None:
    with pytest.raises(ValueError) as err:
        count_chat_tokens(messages)  # type: ignore[arg-type]
    assert str(err.value) == message
