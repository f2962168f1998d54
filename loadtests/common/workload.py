"""Workloads: prompts of controlled token length, drawn reproducibly from a seed.

`loadtests/workloads.yaml` names each workload, its endpoint, its prompt
files (in `loadtests/prompts/`) and the distributions of prompt and output
lengths. A prompt of N tokens is cut from the shipped text at token
boundaries of `gpufleet.tokens`, the same tokenizer the simulator counts
with, so `usage.prompt_tokens` equals the drawn N exactly against the
simulator (and is close to it against a real model's tokenizer).
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gpufleet.tokens import count_chat_tokens, count_tokens, tokenize

LOADTESTS_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CATALOG = LOADTESTS_DIR / "workloads.yaml"


class LengthDist(BaseModel):
    """A token-length distribution, clamped to [min, max] and rounded to an integer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dist: Literal["constant", "uniform", "normal", "lognormal"]
    mean: float | None = None
    stddev: float | None = None
    min: int = Field(ge=1)
    max: int = Field(ge=1)

    @model_validator(mode="after")
    def _check(self) -> LengthDist:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        if self.dist in ("constant", "normal", "lognormal") and self.mean is None:
            raise ValueError(f"a {self.dist} distribution needs 'mean'")
        if self.dist in ("normal", "lognormal") and (self.stddev is None or self.stddev < 0):
            raise ValueError(f"a {self.dist} distribution needs 'stddev' >= 0")
        if self.dist == "lognormal" and self.mean is not None and self.mean <= 0:
            raise ValueError("a lognormal distribution needs 'mean' > 0")
        return self

    def sample(self, rng: random.Random) -> int:
        if self.dist == "uniform":
            return rng.randint(self.min, self.max)
        assert self.mean is not None
        if self.dist == "constant":
            value = self.mean
        elif self.dist == "normal":
            value = rng.gauss(self.mean, self.stddev or 0.0)
        else:  # lognormal with the given mean and standard deviation
            sigma2 = math.log(1.0 + (self.stddev or 0.0) ** 2 / self.mean**2)
            value = rng.lognormvariate(math.log(self.mean) - sigma2 / 2.0, math.sqrt(sigma2))
        return min(self.max, max(self.min, round(value)))


class WorkloadSpec(BaseModel):
    """One request shape: where prompts come from and how long prompts and outputs are."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str
    endpoint: Literal["chat", "completions"] = "chat"
    stream: bool = True
    corpus: str  # prompts/<corpus>.txt: running text cut into prompt bodies
    instructions: str  # prompts/<instructions>.txt: one instruction per line
    layout: Literal["instruction_first", "context_first"] = "instruction_first"
    system_prompt: str | None = None
    input_tokens: LengthDist  # the whole prompt as the server counts it
    output_tokens: LengthDist  # max_tokens (and min_tokens when exact_output)
    exact_output: bool = True  # ask vLLM for exactly max_tokens (min_tokens, ignore_eos)
    temperature: float = 0.0


class MixSpec(BaseModel):
    """A weighted mix of other workloads, chosen per request."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str
    mix: dict[str, float]

    @model_validator(mode="after")
    def _weights(self) -> MixSpec:
        if not self.mix or any(not (w > 0) for w in self.mix.values()):
            raise ValueError("mix needs at least one workload, each with a weight > 0")
        return self


@dataclass(frozen=True)
class RequestPlan:
    """One request to send: path, JSON body and the lengths it was built for."""

    workload: str
    endpoint: str
    stream: bool
    path: str
    body: dict[str, Any]
    input_tokens: int  # prompt tokens the server should count
    max_tokens: int


class CatalogError(ValueError):
    """A workloads file that cannot be used; the message says which entry and why."""


@functools.lru_cache(maxsize=None)
def _read_tokens(path: Path) -> tuple[str, ...]:
    text = path.read_text(encoding="utf-8")
    tokens = tuple(tokenize(" ".join(text.split())))
    if not tokens:
        raise CatalogError(f"{path}: no text")
    return tokens


@functools.lru_cache(maxsize=None)
def sentence_starts(tokens: tuple[str, ...]) -> tuple[int, ...]:
    """Token indices that begin a sentence, so prompt bodies start naturally."""
    ends = {".", "!", "?", "。", "！", "？"}
    starts = [0] + [i for i in range(1, len(tokens)) if tokens[i - 1].strip() in ends]
    return tuple(starts)


@functools.lru_cache(maxsize=None)
def _read_lines(path: Path) -> tuple[str, ...]:
    lines = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if not lines:
        raise CatalogError(f"{path}: no lines")
    return lines


def take_tokens(tokens: tuple[str, ...], start: int, count: int) -> str:
    """`count` tokens of running text from `start`, wrapping to the beginning with a newline.

    Whitespace belongs to the token after it, so a cut at a token boundary
    keeps the count exact; the newline at a wrap keeps the two pieces from
    merging into one token.
    """
    pieces: list[str] = []
    remaining = count
    position = start % len(tokens)
    while remaining > 0:
        chunk = tokens[position : position + remaining]
        pieces.append("".join(chunk).strip())
        remaining -= len(chunk)
        position = 0
    return "\n".join(pieces)


def chat_messages(system_prompt: str | None, user: str) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return messages + [{"role": "user", "content": user}]


def overhead_tokens(spec: WorkloadSpec) -> int:
    """Prompt tokens the server counts beyond the user text (template, roles, system prompt)."""
    if spec.endpoint == "completions":
        return 0
    return count_chat_tokens(chat_messages(spec.system_prompt, ""))


@dataclass(frozen=True)
class _Texts:
    """What a sampler needs of one workload's prompt files, prepared once."""

    spec: WorkloadSpec
    instructions: tuple[str, ...]
    instruction_tokens: tuple[tuple[str, ...], ...]
    corpus: tuple[str, ...]
    starts: tuple[int, ...]
    overhead: int


class WorkloadSampler:
    """Draws request plans for one workload (or mix) from its own random stream."""

    def __init__(self, catalog: Catalog, name: str, model: str, rng: random.Random) -> None:
        self.catalog = catalog
        self.name = name
        self.model = model
        self.rng = rng
        entry = catalog.entry(name)
        if isinstance(entry, MixSpec):
            self._names = list(entry.mix)
            self._weights = list(entry.mix.values())
        else:
            self._names, self._weights = [name], [1.0]
        self._texts: dict[str, _Texts] = {}

    def next(self) -> RequestPlan:
        rng = self.rng
        name = self._names[0] if len(self._names) == 1 else rng.choices(self._names, self._weights)[0]
        texts = self._texts.get(name) or self._prepare(name)
        spec = texts.spec
        input_tokens = spec.input_tokens.sample(rng)
        max_tokens = spec.output_tokens.sample(rng)
        index = rng.randrange(len(texts.instructions))  # what rng.choice(instructions) draws
        start = rng.choice(texts.starts)
        user = self._user_text(spec, input_tokens - texts.overhead, texts.instructions[index],
                               texts.instruction_tokens[index], texts.corpus, start)
        return self._plan(name, spec, user, input_tokens, max_tokens)

    def _prepare(self, name: str) -> _Texts:
        """A workload's prompt material, looked up and tokenized once (not per request)."""
        spec = self.catalog.entry(name)
        assert isinstance(spec, WorkloadSpec)
        instructions = self.catalog.instructions(spec)
        corpus = self.catalog.corpus(spec)
        texts = _Texts(spec, instructions, tuple(tuple(tokenize(i)) for i in instructions), corpus,
                       sentence_starts(corpus), overhead_tokens(spec))
        self._texts[name] = texts
        return texts

    @staticmethod
    def _user_text(spec: WorkloadSpec, budget: int, instruction: str, words: tuple[str, ...],
                   corpus: tuple[str, ...], start: int) -> str:
        if budget <= len(words):
            return "".join(words[:budget]).strip()
        context = take_tokens(corpus, start, budget - len(words))
        if spec.layout == "context_first":
            return f"{context}\n\n{instruction}"
        return f"{instruction}\n\n{context}"

    def _plan(self, name: str, spec: WorkloadSpec, user: str, input_tokens: int, max_tokens: int) -> RequestPlan:
        body: dict[str, Any] = {"model": self.model, "max_tokens": max_tokens, "temperature": spec.temperature}
        if spec.endpoint == "chat":
            path = "/v1/chat/completions"
            body["messages"] = chat_messages(spec.system_prompt, user)
        else:
            path = "/v1/completions"
            body["prompt"] = user
        if spec.exact_output:
            body.update(min_tokens=max_tokens, ignore_eos=True)
        if spec.stream:
            body.update(stream=True, stream_options={"include_usage": True})
        return RequestPlan(name, spec.endpoint, spec.stream, path, body, input_tokens, max_tokens)


class Catalog:
    """The parsed workloads file plus the prompt files it refers to."""

    def __init__(self, entries: dict[str, WorkloadSpec | MixSpec], prompts_dir: Path) -> None:
        self._entries = entries
        self.prompts_dir = prompts_dir

    @property
    def names(self) -> list[str]:
        return sorted(self._entries)

    def entry(self, name: str) -> WorkloadSpec | MixSpec:
        try:
            return self._entries[name]
        except KeyError:
            raise CatalogError(f"unknown workload {name!r}; known: {', '.join(self.names)}") from None

    def corpus(self, spec: WorkloadSpec) -> tuple[str, ...]:
        return _read_tokens(self.prompts_dir / f"{spec.corpus}.txt")

    def instructions(self, spec: WorkloadSpec) -> tuple[str, ...]:
        return _read_lines(self.prompts_dir / f"{spec.instructions}.txt")

    def sampler(self, name: str, model: str, rng: random.Random) -> WorkloadSampler:
        return WorkloadSampler(self, name, model, rng)


def parse_catalog(data: Any, prompts_dir: Path) -> Catalog:
    """Validate a workloads document; every problem is a CatalogError naming the entry."""
    if not isinstance(data, dict) or not isinstance(data.get("workloads"), dict):
        raise CatalogError("workloads file must be a mapping with a 'workloads' mapping")
    entries: dict[str, WorkloadSpec | MixSpec] = {}
    for name, raw in data["workloads"].items():
        model = MixSpec if isinstance(raw, dict) and "mix" in raw else WorkloadSpec
        try:
            entries[name] = model.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise CatalogError(f"workload {name!r}: {where + ': ' if where else ''}{first['msg']}") from None
    catalog = Catalog(entries, prompts_dir)
    for name, entry in entries.items():
        if isinstance(entry, MixSpec):
            for part in entry.mix:
                if not isinstance(entries.get(part), WorkloadSpec):
                    raise CatalogError(f"workload {name!r}: mix refers to {part!r}, which is not a plain workload")
            continue
        for file in (entry.corpus, entry.instructions):
            if not (prompts_dir / f"{file}.txt").is_file():
                raise CatalogError(f"workload {name!r}: prompt file {file}.txt not found in {prompts_dir}")
        floor = overhead_tokens(entry) + 1
        if entry.input_tokens.min < floor:
            raise CatalogError(
                f"workload {name!r}: input_tokens.min is {entry.input_tokens.min}, but the chat template and "
                f"system prompt alone take {floor - 1} tokens; raise it to at least {floor}"
            )
    return catalog


def load_catalog(path: Path = DEFAULT_CATALOG) -> Catalog:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogError(f"cannot read workloads file {path}: {exc.strerror}") from None
    return parse_catalog(data, path.parent / "prompts")


def prompt_tokens_of(plan: RequestPlan) -> int:
    """Prompt tokens of a plan under the shared tokenizer (what the simulator reports)."""
    if plan.endpoint == "chat":
        return count_chat_tokens(plan.body["messages"])
    return count_tokens(plan.body["prompt"])
