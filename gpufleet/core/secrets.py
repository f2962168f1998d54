"""Secret config values, wherever they sit in a stack's config, never shown in plaintext.

`pulumi config set --secret --path gpufleet:compliance.genaiFilingId X` writes a
`{secure: v1:...}` leaf inside the key's object, and Pulumi then treats the whole
top-level key as secret. Offline the ciphertext cannot be decrypted, so each such
leaf becomes the placeholder and is withheld from shape checks (its value is unknown,
as in `pulumi preview` without the passphrase); under `pulumi up` the values are the
decrypted ones and every error message is scrubbed of them.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

from pydantic import BaseModel

SECRET_PLACEHOLDER = "[secret]"
Path = tuple[str, ...]


def _is_secure(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"secure"}


def mask_secure(value: Any) -> tuple[Any, bool]:
    """`value` with every `{secure: ...}` leaf replaced by the placeholder; True when any was."""
    if _is_secure(value):
        return SECRET_PLACEHOLDER, True
    if isinstance(value, Mapping):
        items = {k: mask_secure(v) for k, v in value.items()}
        return {k: v for k, (v, _) in items.items()}, any(found for _, found in items.values())
    if isinstance(value, list):
        items = [mask_secure(v) for v in value]
        return [v for v, _ in items], any(found for _, found in items)
    return value, False


def mask_config(config: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A stack's config map with secure values masked, and the keys that hold one (secret as a whole)."""
    out, secret_keys = {}, []
    for key, value in config.items():
        out[key], found = mask_secure(value)
        if found:
            secret_keys.append(key)
    return out, secret_keys


def withhold(value: Mapping[str, Any], path: Path = ()) -> tuple[dict[str, Any], list[Path]]:
    """`value` without its placeholder entries (unknown offline), and where they were."""
    out: dict[str, Any] = {}
    paths: list[Path] = []
    for key, item in value.items():
        here = (*path, str(key))
        if item == SECRET_PLACEHOLDER:
            paths.append(here)
        elif isinstance(item, Mapping):
            out[key], found = withhold(item, here)
            paths += found
        else:
            out[key] = item
    return out, paths


def _field_name(model: BaseModel, alias: str) -> str:
    for name, info in type(model).model_fields.items():
        if alias in (name, info.alias):
            return name
    raise KeyError(alias)


def put_back(obj: Any, path: Path) -> Any:
    """`obj` (a frozen model, a dict) with the placeholder at `path` (field aliases), unvalidated."""
    if not path:
        return SECRET_PLACEHOLDER
    head, rest = path[0], path[1:]
    if isinstance(obj, BaseModel):
        name = _field_name(obj, head)
        return obj.model_copy(update={name: put_back(getattr(obj, name), rest)})
    if isinstance(obj, Mapping):
        return {**obj, head: put_back(obj.get(head), rest)}
    return SECRET_PLACEHOLDER if not rest else obj


def plaintexts(raw: Mapping[str, Any], secret_keys: Iterable[str]) -> list[str]:
    """Every string inside the secret keys' values (decrypted under `pulumi up`), longest first."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str) and value[:1] in "[{":  # structured config arrives as JSON text
            try:
                value = json.loads(value)
            except ValueError:
                pass
        if isinstance(value, Mapping):
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)
        elif value is not None and str(value) not in ("", SECRET_PLACEHOLDER) and len(str(value)) >= 3:
            found.append(str(value))

    for key in secret_keys:
        walk(raw.get(key))
    return sorted(set(found), key=len, reverse=True)


def scrub(message: str, secrets: Iterable[str]) -> str:
    """`message` with every secret plaintext replaced by the placeholder."""
    for secret in secrets:
        message = message.replace(secret, SECRET_PLACEHOLDER)
    return message
