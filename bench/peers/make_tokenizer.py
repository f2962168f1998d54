"""Build a small, offline Hugging Face tokenizer that counts like the simulator.

GuideLLM and inference-perf both need a tokenizer (they build prompts of N
tokens by encoding and decoding text, and may count output tokens), and
nothing can be downloaded from a hub here. This writes a directory that
``transformers.AutoTokenizer.from_pretrained(DIR)`` loads offline:

* ``tokenizer.json``: a ``tokenizers`` WordLevel model whose pre-tokenizer is
  the simulator's own rule (:mod:`gpufleet.tokens`: a run of up to 8 ASCII
  letters/digits, or any other single non-space character, each with the
  whitespace before it). Every such piece is exactly one token, so the peers'
  prompt lengths and output counts agree with ``usage`` from the simulator.
  The vocabulary is every piece of the simulator's ``OUTPUT_VOCAB``, of the
  repository's prompt files (``loadtests/prompts``) and of a few word lists
  (Faker's English lorem words when Faker is importable, which GuideLLM's
  synthetic prompts are made of; numbers 0-9999), each also with a leading
  space, newline or blank line. Anything else is one ``[UNK]`` token (still
  one token, so counts stay right; decoding drops it).
* ``tokenizer_config.json`` / ``special_tokens_map.json``: the fast tokenizer
  class and special tokens, no BOS/EOS added on encode, no space clean-up on
  decode (decoding is plain concatenation, so decode(encode(t)) == t for
  in-vocabulary text).
* ``corpus.txt``: the repository's English prompt text, as a prompt corpus
  for inference-perf's synthetic data (``data.corpus_file_path``).

Run it with a Python that has ``tokenizers`` (the peer environments do)::

    PYTHONPATH=. .venv-guidellm/bin/python bench/peers/make_tokenizer.py --out bench/peers/.cache/tokenizer

The pure part (the vocabulary) needs only the standard library and
``gpufleet.tokens``; the peer environments do not install gpufleet, so
``setup.sh`` runs this with the repository root on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from gpufleet.tokens import MAX_ALNUM_RUN, OUTPUT_VOCAB, count_tokens, tokenize

ROOT = Path(__file__).resolve().parents[2]

PROMPTS_DIR = ROOT / "loadtests" / "prompts"
DEFAULT_OUT = ROOT / "bench" / "peers" / ".cache" / "tokenizer"

UNK, PAD, BOS, EOS = "[UNK]", "[PAD]", "<s>", "</s>"
SPECIAL_TOKENS: tuple[str, ...] = (PAD, UNK, BOS, EOS)
PREFIXES: tuple[str, ...] = ("", " ", "\n", "\n\n")
# The simulator's token rule as a regular expression for tokenizers' Split
# pre-tokenizer: gpufleet.tokens._TOKEN_RE, plus trailing whitespace at the very
# end of the text glued to the last token (as gpufleet.tokens.tokenize does).
PATTERN = r"\s*(?:[A-Za-z0-9]{1,%d}|\S)(?:\s+\z)?" % MAX_ALNUM_RUN
FORMAT_VERSION = 1  # bump when the vocabulary rules change (setup.sh rebuilds on change)


def _words(texts: Iterable[str]) -> set[str]:
    """Bare pieces (whitespace stripped) of every token in ``texts``."""
    found: set[str] = set()
    for text in texts:
        for piece in tokenize(text):
            bare = piece.strip()
            if bare:
                found.add(bare)
    return found


def build_vocab(texts: Iterable[str], words: Iterable[str] = (), *, numbers: int = 10000) -> list[str]:
    """Special tokens, then every piece of ``texts`` and ``words`` with each prefix, sorted.

    ``words`` are tokenized first (so a word longer than the alphanumeric run
    limit contributes its pieces), and each word is also added capitalised.
    """
    bare = _words(texts)
    extra = list(words) + [str(n) for n in range(numbers)]
    bare |= _words(extra)
    bare |= _words(w[:1].upper() + w[1:] for w in extra if w)
    pieces: set[str] = set()
    for word in bare:
        for prefix in PREFIXES:
            pieces.update(tokenize(prefix + word))
    pieces.difference_update(SPECIAL_TOKENS)
    return list(SPECIAL_TOKENS) + sorted(pieces)


def repo_texts(prompts_dir: Path = PROMPTS_DIR) -> list[str]:
    """The simulator's output vocabulary and every prompt file of the repository."""
    texts = ["".join(OUTPUT_VOCAB)]
    texts += [p.read_text(encoding="utf-8") for p in sorted(prompts_dir.glob("*.txt"))]
    return texts


def faker_words() -> list[str]:
    """Faker's English lorem word list (GuideLLM's synthetic prompts), if Faker is installed."""
    try:
        from faker.providers.lorem.en_US import Provider
    except ImportError:
        return []
    return list(Provider.word_list)


def corpus_text(prompts_dir: Path = PROMPTS_DIR) -> str:
    """English prompt text for inference-perf's synthetic prompts (one line per paragraph)."""
    parts = []
    for name in ("en_passages.txt", "en_instructions.txt", "long_instructions.txt"):
        path = prompts_dir / name
        if path.is_file():
            parts.append(path.read_text(encoding="utf-8").strip())
    return "\n".join(parts) + "\n"


def tokenizer_config(vocab_size: int) -> dict[str, object]:
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": 131072,
        "unk_token": UNK,
        "pad_token": PAD,
        "bos_token": BOS,
        "eos_token": EOS,
        "clean_up_tokenization_spaces": False,
        "add_bos_token": False,
        "add_eos_token": False,
        "gpufleet_vocab_size": vocab_size,
        "gpufleet_format": FORMAT_VERSION,
    }


def build_tokenizer(vocab: Sequence[str]):  # -> tokenizers.Tokenizer
    """The WordLevel tokenizer over ``vocab`` with the simulator's split rule."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel(vocab={piece: i for i, piece in enumerate(vocab)}, unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(PATTERN), behavior="isolated")
    tok.decoder = decoders.Fuse()
    tok.add_special_tokens(list(SPECIAL_TOKENS))
    return tok


def write_tokenizer(out: Path, *, prompts_dir: Path = PROMPTS_DIR) -> dict[str, object]:
    """Write the tokenizer directory and the corpus file; returns a short summary."""
    vocab = build_vocab(repo_texts(prompts_dir), faker_words())
    tok = build_tokenizer(vocab)
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"))
    config = tokenizer_config(len(vocab))
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    special = {"unk_token": UNK, "pad_token": PAD, "bos_token": BOS, "eos_token": EOS}
    (out / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n", encoding="utf-8")
    (out / "corpus.txt").write_text(corpus_text(prompts_dir), encoding="utf-8")
    return {"dir": str(out), "vocab_size": len(vocab), "format": FORMAT_VERSION}


def check(out: Path, samples: Iterable[str]) -> list[str]:
    """Load ``out`` with transformers (offline) and compare counts with gpufleet.tokens.

    Returns the problems found (empty when every sample counts the same and
    round-trips through decode).
    """
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(out))
    problems = []
    for text in samples:
        ids = tok.encode(text, add_special_tokens=False)
        expected = count_tokens(text)
        if len(ids) != expected:
            problems.append(f"{text[:40]!r}: {len(ids)} tokens, simulator counts {expected}")
        elif tok.unk_token_id not in ids and tok.decode(ids) != text:
            problems.append(f"{text[:40]!r}: decode(encode(text)) != text")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--check", action="store_true", help="load it back with transformers and verify counts")
    args = parser.parse_args(argv)
    summary = write_tokenizer(args.out)
    if args.check:
        samples = [" ".join(OUTPUT_VOCAB[:200]), *(t[:4000] for t in repo_texts()[1:])]
        problems = check(args.out, samples)
        summary["check"] = "ok" if not problems else problems
        if problems:
            print(json.dumps(summary, ensure_ascii=False))
            return 1
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
