"""Reading a stack file safely: its name, its path, its bytes, its YAML and its shape.

Everything here happens before any value is validated, so that a malformed file
(a tab, an unclosed bracket, a list where a map belongs, bytes that are not
UTF-8, a key written twice, a stack name that walks out of the stack directory)
gets the same one-line `ConfigError` as a bad value, never a traceback. The
config validator (`gpufleet.core.config`) calls these; nothing here knows the
meaning of any key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gpufleet.core.errors import ConfigError, StackConfigError

MAX_FILE_BYTES = 1 << 20  # a stack file is a few kilobytes; a megabyte is not a stack file
MAX_NODES = 20_000  # YAML nodes after alias expansion (stops "billion laughs" documents)
# Top-level keys of a Pulumi stack settings file (https://www.pulumi.com/docs/iac/concepts/projects/stack-settings-file/).
TOP_LEVEL_KEYS = ("config", "encryptedkey", "encryptionsalt", "environment", "secretsprovider")


def check_inside(stack: str, path: Path, stacks_dir: Path) -> Path:
    """`path`, refused unless it resolves inside `stacks_dir` (no symlink escapes)."""
    try:
        inside = path.resolve().parent == stacks_dir.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        inside = False
    if not inside:
        raise StackConfigError(stack, "stack", f"{path.name} resolves outside the {stacks_dir.name}/ directory "
                                               "(a stack file must lie in the project's stack directory)")
    return path


def read_stack_bytes(stack: str, path: Path, allowed: list[str]) -> str:
    """The file's text: it must exist, be a regular small file and be UTF-8."""
    if not path.is_file():
        raise StackConfigError(stack, "stack", f"no stack file {path.name} (allowed: {', '.join(allowed)})")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise StackConfigError(stack, path.name, f"is {size} bytes; a stack file may be at most {MAX_FILE_BYTES}")
        data = path.read_bytes()
    except OSError as exc:
        raise StackConfigError(stack, path.name, f"cannot be read: {exc.strerror or exc}") from None
    try:
        return decode_utf8(data, path.name)
    except ConfigError as exc:
        raise StackConfigError(stack, exc.key, exc.message) from None


def decode_utf8(data: bytes, file_name: str) -> str:
    """Strict UTF-8 (what Pulumi reads), with the line and column of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(file_name, f"line {line}, column {column}: byte 0x{data[exc.start]:02x} is not UTF-8 "
                                     "(save the file as UTF-8)") from None


# ---------------------------------------------------------------- YAML


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """'line L, column C: what' from PyYAML's marked errors, in plain words."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    text = f"{context}, {problem}" if context else problem
    if "'\\t'" in text:
        text += " (YAML indents with spaces, not tabs)"
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}is not valid YAML: {text}"


def _walk(node: yaml.Node, path: tuple[str, ...], budget: list[int]) -> None:
    """Refuse keys written twice in one map (YAML would keep the last silently) and runaway aliases."""
    budget[0] -= 1
    if budget[0] < 0:
        raise ConfigError(_dotted(path[:2]) or "<document>", f"has more than {MAX_NODES} YAML nodes "
                                                             "(aliases expanded); a stack file needs far fewer")
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "<complex key>"
            line = key_node.start_mark.line + 1
            if key in seen and key != "<<":
                where = _dotted(path + (key,))
                raise ConfigError(where, f"duplicate key on lines {seen[key]} and {line} "
                                         "(YAML would keep only the last; remove one)")
            seen[key] = line
            _walk(value_node, path + (key,), budget)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (str(i),), budget)


def _dotted(path: tuple[str, ...]) -> str:
    """A config path as users write keys: 'gpufleet:gpuPool.maxSize' (the 'config' level dropped)."""
    if path[:1] == ("config",) and len(path) > 1:
        path = path[1:]
    return ".".join(path)


def load_yaml(text: str, file_name: str) -> Any:
    """Safe-load one YAML document; ConfigError (one line, with line and column) on anything malformed."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is None:
            return None
        _walk(node, (), [MAX_NODES])
        return yaml.safe_load(text)
    except ConfigError as exc:
        raise ConfigError(exc.key if exc.key != "<document>" else file_name, exc.message) from None
    except yaml.YAMLError as exc:
        raise ConfigError(file_name, _yaml_problem(exc)) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # e.g. a timestamp out of range
        raise ConfigError(file_name, f"is not valid YAML: {exc}") from None


def _type_name(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), type(value).__name__)


def config_map(text: str, file_name: str, project: str) -> dict[str, Any]:
    """The `config:` map of a stack file, keys fully qualified ('team' -> 'gpufleet:team')."""
    doc = load_yaml(text, file_name)
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(file_name, f"must be a map with a 'config:' key (allowed top-level keys: "
                                     f"{', '.join(TOP_LEVEL_KEYS)}); got {_type_name(doc)}")
    unknown = [str(k) for k in doc if k not in TOP_LEVEL_KEYS]
    if unknown:
        raise ConfigError(file_name, f"unknown top-level key {unknown[0]!r} (allowed: {', '.join(TOP_LEVEL_KEYS)}; "
                                     "stack settings go under 'config:')")
    config = doc.get("config")
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ConfigError("config", f"must be a map of 'namespace:key: value' entries; got {_type_name(config)}")
    out: dict[str, Any] = {}
    for key, value in config.items():
        if not isinstance(key, str) or not key.strip():
            raise ConfigError("config", f"keys must be strings like '{project}:team'; got {key!r}")
        full = key if ":" in key else f"{project}:{key}"  # Pulumi reads a bare key as the project's
        if full in out:
            raise ConfigError(full, f"is set twice (as {key!r} and with its namespace); keep one")
        out[full] = value
    return out

