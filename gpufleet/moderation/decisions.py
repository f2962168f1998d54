"""Every block and every moderation failure as one JSON line on stdout.

In the cluster, the SLS log collector (logtail) ships the proxy's stdout to the
stack's own `moderation-decisions` log store (kept >= 184 days, in region): that
is the audit trail the Interim Measures (art. 14) and the Cybersecurity Law
(art. 21) ask for. The user id is only ever stored hashed; the text itself only
when the stack's config allows (`logRawText`).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from typing import IO, Any

EVENT = "gpufleet.moderation.decision"


def hash_user(user: str | None, salt: str) -> str | None:
    """SHA-256 of `salt:user` (hex), so logs can correlate a user without naming them."""
    if not user:
        return None
    return hashlib.sha256(f"{salt}:{user}".encode()).hexdigest()


class DecisionLog:
    def __init__(self, stack: str, provider: str, *, log_raw_text: bool, stream: IO[str] | None = None) -> None:
        self.stack = stack
        self.provider = provider
        self.log_raw_text = log_raw_text
        self.stream = stream or sys.stdout

    def record(self, *, request_id: str, user_hash: str | None, direction: str, decision: str,
               categories: tuple[str, ...] = (), risk_level: str | None = None, detail: str | None = None,
               provider_request_id: str | None = None, text: str | None = None) -> dict[str, Any]:
        """One line: decision is `block`, `error`, `timeout` or `fail_open` (an error let through, non-prod)."""
        entry: dict[str, Any] = {
            "ts": round(time.time(), 3), "event": EVENT, "stack": self.stack, "provider": self.provider,
            "requestId": request_id, "userHash": user_hash, "direction": direction, "decision": decision,
            "categories": list(categories), "riskLevel": risk_level, "providerRequestId": provider_request_id,
        }
        if detail:
            entry["detail"] = detail
        if self.log_raw_text and text is not None:
            entry["text"] = text
        self.stream.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self.stream.flush()
        return entry
