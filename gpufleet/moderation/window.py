"""When a streamed output is screened, and what may be released: pure logic, no I/O.

Text arrives in small deltas and is *held*. A window is screened when the held
text ends a sentence and holds at least `min_chars`, or reaches `max_chars`; a
response's first window is screened already at `first_chars` (so TTFT stays
short); text held for `max_hold_s` is screened whatever its size (so slow or
CJK output, one character per token, never waits long); and once more at the end. The text screened is the held text plus the last `overlap`
characters already released, so a phrase split across two windows is still
seen whole. Only screened text is ever released: the user never receives text
past the last screened window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

SENTENCE_ENDS = frozenset("。！？；…!?;.\n")


@dataclass
class OutputWindow:
    min_chars: int
    first_chars: int
    max_chars: int
    overlap: int
    max_hold_s: float = float("inf")
    held: str = ""
    held_at: float | None = None
    released_tail: str = ""
    released_chars: int = 0
    windows: int = 0

    def add(self, delta: str, now: float | None = None) -> None:
        if delta and not self.held:
            self.held_at = time.monotonic() if now is None else now
        self.held += delta

    def due(self, now: float | None = None) -> bool:
        """True when the held text should be screened now (more text may still come)."""
        size = len(self.held)
        if size == 0:
            return False
        if self.held_at is not None and (time.monotonic() if now is None else now) - self.held_at >= self.max_hold_s:
            return True
        first = self.windows == 0
        if size >= (self.first_chars if first else self.max_chars):
            return True
        least = min(self.min_chars, self.first_chars) if first else self.min_chars
        return size >= least and self.held.rstrip(" \t\"'”’)）")[-1:] in SENTENCE_ENDS

    def text_to_screen(self) -> str:
        return self.released_tail + self.held

    def release(self) -> str:
        """The held text passed: it may go to the user; remember its tail for the next window's overlap."""
        text, self.held, self.held_at = self.held, "", None
        self.windows += 1
        self.released_chars += len(text)
        self.released_tail = (self.released_tail + text)[-self.overlap:] if self.overlap else ""
        return text


def segments(text: str, size: int, overlap: int) -> list[str]:
    """Pieces of at most `size` characters overlapping by `overlap` (a provider's per-call limit)."""
    if len(text) <= size:
        return [text]
    step = max(1, size - overlap)
    return [text[i:i + size] for i in range(0, max(1, len(text) - overlap), step)]
