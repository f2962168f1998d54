"""The metric names a PromQL expression reads, without a full parser.

Good enough for our own expressions (dashboards and rules): string literals,
label matchers `{...}`, ranges `[...]` and the label lists of `by/without/on/
ignoring/group_left/group_right (...)` are removed, then every identifier that is
not a function call, a keyword or a number is a metric name. Syntax itself is
checked by promtool (tests); this only answers "which series does it need".
"""

from __future__ import annotations

import re

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_BRACES = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENT = re.compile(r"(?<![\w:.$])([A-Za-z_:][A-Za-z0-9_:]*)(?![\w:])(?!\s*\()")
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
            "offset", "inf", "nan", "Inf", "NaN", "atan2"}


def metric_names(expr: str) -> set[str]:
    text = _STRING.sub('""', expr)
    text = _BRACES.sub("", text)
    text = _RANGE.sub("", text)
    text = _LABEL_LIST.sub("", text)
    return {name for name in _IDENT.findall(text) if name not in KEYWORDS}
