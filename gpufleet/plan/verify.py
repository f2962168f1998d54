"""Before `--write` touches a stack file: does the new text preview cleanly?

The same checks `gpufleet preview` makes, on the text that would be written:
the real Pulumi program under the mock engine (config validation included)
and the CrossGuard policies. Imported lazily: the Pulumi SDKs take seconds
to load, and only `--write` needs them.
"""

from __future__ import annotations

from pathlib import Path


def preview_problem(stack: str, text: str, root: Path | None = None) -> str | None:
    """None when the stack previews cleanly with `text`, else one line saying why not."""
    from gpufleet.core.config import load_stack
    from gpufleet.policy_runner import has_mandatory_violation, run_policies
    from gpufleet.preview.engine import prepare, preview_stack

    prepare()
    preview = preview_stack(stack, text=text, root=root)
    if not preview.ok:
        return preview.error or f"stack '{stack}': the preview failed"
    results = run_policies(preview, load_stack(stack, text=text, root=root))
    if has_mandatory_violation(results):
        ids = ", ".join(sorted({r.policy for r in results if r.level == "mandatory"}))
        return f"stack '{stack}': the planned stack violates mandatory policies: {ids}"
    return None
