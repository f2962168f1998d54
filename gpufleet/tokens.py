"""A tiny deterministic tokenizer shared by the simulator and the load generator.

Real tokenizers (BPE, SentencePiece) need model files and disagree with each
other; our load tests only need *a* stable rule so that the client that builds
prompts of N tokens and the simulator that counts them always agree. The rule:

* each run of ASCII letters/digits is one token, split every 8 characters;
* every other non-whitespace character is one token on its own (CJK
  ideographs, kana, hangul, full-width and ASCII punctuation, symbols, ...);
* whitespace is not a token: it is glued to the token that follows it (and
  trailing whitespace to the last token), so ``"".join(tokenize(t)) == t``
  whenever ``t`` contains a non-whitespace character.

The rule is deliberately close to what real tokenizers do on average (roughly
one token per short English word, one per Chinese character).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "MAX_ALNUM_RUN",
    "OUTPUT_VOCAB",
    "CHAT_TOKENS_PER_MESSAGE",
    "CHAT_TOKENS_REPLY_PRIMER",
    "tokenize",
    "count_tokens",
    "count_chat_tokens",
]

MAX_ALNUM_RUN = 8
"""Longest ASCII letter/digit run that is still one token."""

_TOKEN_RE = re.compile(rf"\s*(?:[A-Za-z0-9]{{1,{MAX_ALNUM_RUN}}}|\S)")

CHAT_TOKENS_PER_MESSAGE = 2
"""Tokens a chat template adds around each message (start and end markers)."""

CHAT_TOKENS_REPLY_PRIMER = 2
"""Tokens a chat template adds to prime the assistant's reply."""


def tokenize(text: str) -> list[str]:
    """Split ``text`` into tokens under the module's rule (lossless join)."""
    tokens = _TOKEN_RE.findall(text)
    if tokens:
        consumed = sum(len(t) for t in tokens)
        if consumed < len(text):  # only trailing whitespace can be left over
            tokens[-1] += text[consumed:]
    return tokens


def count_tokens(text: str) -> int:
    """Number of tokens in ``text``; same as ``len(tokenize(text))`` but cheaper."""
    return len(_TOKEN_RE.findall(text))


def _content_text(content: Any) -> str:
    """Text of an OpenAI message ``content`` (a string or a list of text parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts: list[str] = []
        for part in content:
            if not isinstance(part, Mapping) or part.get("type") != "text":
                raise ValueError("only text content parts are supported")
            text = part.get("text")
            if not isinstance(text, str):
                raise ValueError("a text content part needs a string 'text'")
            texts.append(text)
        return "".join(texts)
    raise ValueError("message content must be a string or a list of text parts")


def count_chat_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """Prompt tokens of a chat request, as a chat template would produce them.

    Each message costs its role and content tokens plus
    ``CHAT_TOKENS_PER_MESSAGE``; the reply primer adds
    ``CHAT_TOKENS_REPLY_PRIMER``. So a client can predict ``usage.prompt_tokens``
    exactly, while still seeing that it differs from the bare content tokens.
    """
    total = CHAT_TOKENS_REPLY_PRIMER
    for message in messages:
        if not isinstance(message, Mapping):
            raise ValueError("each message must be an object")
        role = message.get("role")
        if not isinstance(role, str):
            raise ValueError("each message needs a string 'role'")
        total += (
            CHAT_TOKENS_PER_MESSAGE
            + count_tokens(role)
            + count_tokens(_content_text(message.get("content")))
        )
    return total


_ENGLISH_WORDS = (
    "the of and to in is that for it as with was on be by at this are from "
    "or an but not have has which one all their can more will about if there "
    "when so what up out time some into them other than only new its also "
    "model server token request stream latency cluster cloud region batch "
    "cache memory engine queue node pod scale load test data value result "
    "first last next fast slow small large simple steady signal answer"
).split()

_CHINESE_CHARS = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理世车"

_PUNCTUATION = (",", ".", "，", "。")

OUTPUT_VOCAB: tuple[str, ...] = tuple(
    dict.fromkeys(
        [" " + word for word in _ENGLISH_WORDS]
        + list(_CHINESE_CHARS)
        + list(_PUNCTUATION)
    )
)
"""Fixed output vocabulary: every entry is exactly one token, and any
concatenation of entries has exactly as many tokens as entries (English words
carry their leading space; Chinese characters and punctuation stand alone)."""
