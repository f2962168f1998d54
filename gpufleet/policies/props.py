"""Reading resource inputs: dotted paths, every string with its path, tags.

Inputs are camelCase wire names (`vpcConfig.endpointPublicAccess`), the same in
Pulumi's analyzer and in the offline engine.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence

from .model import is_unknown

Path = tuple[str | int, ...]


def get(props: Any, path: str, default: Any = None) -> Any:
    """props['a']['b'][0] for 'a.b.0'; `default` when any step is missing."""
    node = props
    for part in path.split("."):
        if isinstance(node, Mapping):
            if part not in node:
                return default
            node = node[part]
        elif isinstance(node, Sequence) and not isinstance(node, str) and part.isdigit():
            index = int(part)
            if index >= len(node):
                return default
            node = node[index]
        else:
            return default
    return node


def as_list(value: Any) -> list[Any]:
    """A list for list-ish values, [value] for a scalar, [] for None."""
    if value is None:
        return []
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    return [value]


def walk_strings(value: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """Every string leaf with the path that leads to it (dict keys and list indexes)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from walk_strings(item, (*path, str(key)))
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        for index, item in enumerate(value):
            yield from walk_strings(item, (*path, index))


def last_key(path: Path) -> str:
    """The nearest dict key of a path: 'zoneIds' for ('zoneIds', 0)."""
    for part in reversed(path):
        if isinstance(part, str):
            return part
    return ""


def dotted(path: Path) -> str:
    return ".".join(str(p) for p in path)


def tags_of(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """A resource's `tags` map, or {} (unknown or absent)."""
    tags = props.get("tags")
    return tags if isinstance(tags, Mapping) else {}


def truthy(value: Any) -> bool:
    """Booleans as Pulumi inputs carry them: True, 'true', 'Enabled'."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on", "enabled")
    return False


def known(value: Any) -> bool:
    return value is not None and not is_unknown(value)
