"""The stack's moderation stage on 127.0.0.1, for the local load-test gate and the demo.

`stage_in_front(stack, upstream)` yields the URL clients should use: the
upstream itself for a stack without the stage, else a proxy with the stack's own
settings (windows, timeout, labels, fail-closed) in front of it, screening through
the local provider stand-in (the Green API through the real SDK, or the `custom`
contract). So a `cn` gate's TTFT and throughput include the stage's cost.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace

from gpufleet.moderation.launch import LocalProxy, LocalStandin

# Words the local stand-in blocks: none occurs in the simulator's output vocabulary.
LOCAL_BLOCKED = {"forbidden-phrase": "political_content"}


@contextlib.contextmanager
def stage_in_front(stack: str | None, upstream: str) -> Iterator[str]:
    if not stack:
        yield upstream
        return
    from gpufleet.core.config import load_stack
    from gpufleet.core.moderation_stage import proxy_settings, stage_enabled

    cfg = load_stack(stack)
    m = cfg.compliance.moderation
    if m is None or not stage_enabled(cfg):
        yield upstream
        return
    settings = replace(proxy_settings(cfg, m, next(iter(cfg.releases))), upstream=upstream, host="127.0.0.1", port=0,
                       metrics_port=None)
    with LocalStandin(block=LOCAL_BLOCKED) as standin:
        if settings.provider == "aliyun-green":
            settings = replace(settings, endpoint=standin.url)
        elif settings.provider == "custom":
            settings = replace(settings, endpoint=standin.url + "/custom")
        fields = {k: getattr(settings, k) for k in settings.__dataclass_fields__ if k != "extra"}
        with LocalProxy(**fields) as proxy:
            yield proxy.url
