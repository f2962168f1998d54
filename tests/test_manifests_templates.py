"""The structural template engine behind k8s/ and the `{{token}}` helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpufleet.core.manifests import TEMPLATES_DIR
from gpufleet.core.templates import load_template, render_template, substitute_tokens, tokens

TEMPLATE = """\
kind: Thing
metadata:
  name: !format "vllm-{release}"
  labels: !merge
    - !param labels
    - !param extra
    - fixed: "yes"
spec:
  replicas: !param replicas
  items:
    - !param first
    - !param second
    - literal
---
kind: Other
value: !param replicas
"""


def write(tmp_path: Path, text: str = TEMPLATE) -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_tags_resolve_structurally(tmp_path: Path):
    docs = render_template(
        write(tmp_path),
        {"release": "blue", "labels": {"a": "1"}, "extra": {"b": "2"}, "replicas": 3, "first": {"x": [1]}, "second": 7},
    )
    assert docs == [
        {
            "kind": "Thing",
            "metadata": {"name": "vllm-blue", "labels": {"a": "1", "b": "2", "fixed": "yes"}},
            "spec": {"replicas": 3, "items": [{"x": [1]}, 7, "literal"]},
        },
        {"kind": "Other", "value": 3},
    ]


def test_none_drops_keys_list_items_and_merge_parts(tmp_path: Path):
    docs = render_template(
        write(tmp_path),
        {"release": "blue", "labels": {"a": "1"}, "extra": None, "replicas": None, "first": None, "second": 7},
    )
    assert docs[0]["metadata"]["labels"] == {"a": "1", "fixed": "yes"}
    assert docs[0]["spec"] == {"items": [7, "literal"]}
    assert docs[1] == {"kind": "Other"}


def test_unknown_parameter_names_the_template(tmp_path: Path):
    with pytest.raises(ValueError) as caught:
        render_template(write(tmp_path), {"release": "blue", "labels": {}, "extra": None})
    assert str(caught.value) == "template t.yaml uses unknown parameter 'replicas'"


def test_every_shipped_template_loads():
    paths = [p for d in ("model-server", "nvidia-device-plugin") for p in sorted((TEMPLATES_DIR / d).glob("*.yaml"))]
    assert len(paths) == 11
    for path in paths:
        assert load_template(path), path


def test_tokens():
    text = "{{weights_bucket_url}}/models/{{model}}"
    assert tokens(text) == ["weights_bucket_url", "model"]
    assert substitute_tokens(text, {"weights_bucket_url": "s3://b", "model": "Qwen3-8B"}) == "s3://b/models/Qwen3-8B"
    assert tokens("s3://b/{not a token}") == []
