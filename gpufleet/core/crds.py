"""Validate custom resources offline against the upstream CRD schemas in `k8s/crds/`.

The CRD files are verbatim upstream copies (see `k8s/crds/README.md` for repository, path,
commit and licence). A custom resource is checked against the `openAPIV3Schema` of the
version its `apiVersion` names, with unknown fields refused where the schema does not
preserve them, the way the API server prunes and rejects in strict field validation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from gpufleet.core.assets import packaged_dir

CRDS_DIR = packaged_dir("k8s") / "crds"  # gpufleet's vendored validation data, never the project's


class CrdError(ValueError):
    """A custom resource that its CRD refuses, or that no known CRD defines."""


@lru_cache(maxsize=1)
def _index(crds_dir: Path = CRDS_DIR) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(group, version, kind) -> openAPIV3Schema, for every CRD file under crds_dir."""
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for path in sorted(crds_dir.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                schema = (version.get("schema") or {}).get("openAPIV3Schema")
                if schema is not None:
                    found[(spec["group"], version["name"], spec["names"]["kind"])] = schema
    return found


def known_kinds() -> set[tuple[str, str]]:
    """(apiVersion, kind) pairs that a vendored CRD defines."""
    return {(f"{g}/{v}", k) for g, v, k in _index()}


def schema_for(api_version: str, kind: str) -> dict[str, Any]:
    group, _, version = api_version.rpartition("/")
    try:
        return _index()[(group, version, kind)]
    except KeyError:
        raise CrdError(f"no vendored CRD defines {api_version} {kind}") from None


def _strict(schema: Any) -> Any:
    """JSON Schema from an OpenAPI v3 structural schema: objects without
    `x-kubernetes-preserve-unknown-fields` refuse fields they do not declare."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, Mapping):
        return schema
    out = {k: _strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("nullable"):
        out.pop("nullable", None)
        if "type" in out:
            out["type"] = [out["type"], "null"]
    if (out.get("type") == "object" and "properties" in out and "additionalProperties" not in out
            and not schema.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


def crd_errors(resource: Mapping[str, Any]) -> list[str]:
    """Every schema violation of one custom resource, as 'path: message' lines (empty if valid)."""
    import jsonschema  # a test-time dependency; the program never validates CRs itself

    schema = _strict(schema_for(str(resource.get("apiVersion", "")), str(resource.get("kind", ""))))
    body = {k: v for k, v in resource.items() if k != "status"}
    meta = body.get("metadata") or {}
    body["metadata"] = {}  # metadata is the API server's ObjectMeta, not part of the CRD schema
    validator = jsonschema.Draft202012Validator(schema)
    errors = [f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
              for e in validator.iter_errors(body)]
    if not meta.get("name"):
        errors.append("metadata.name: required")
    return errors


def validate_custom_resource(resource: Mapping[str, Any]) -> None:
    errors = crd_errors(resource)
    if errors:
        name = (resource.get("metadata") or {}).get("name", "?")
        raise CrdError(f"{resource.get('kind')} {name!r}: " + "; ".join(errors))


def custom_resources(objects: list[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """The objects in a rendered list whose kind a vendored CRD defines."""
    kinds = known_kinds()
    return (o for o in objects if (o.get("apiVersion"), o.get("kind")) in kinds)
