"""Entry point of the CrossGuard pack: `pulumi preview --policy-pack policy`.

Pulumi runs this file with policy/ on sys.path; the rules import as
`policy.gpufleet_policies` (shared with `gpufleet preview`) and need `infra`, so
the repository root goes on sys.path first. Building `POLICIES` has no side
effects; only running as __main__ starts the analyzer (PolicyPack serves gRPC).
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policy.gpufleet_policies.pack import PACK_DESCRIPTION, PACK_NAME, pulumi_policies  # noqa: E402

POLICIES = pulumi_policies()

if __name__ == "__main__":
    PolicyPack(
        name=PACK_NAME,
        policies=POLICIES,
        # Every policy sets its own level; this applies only to a policy that would not.
        enforcement_level=EnforcementLevel.ADVISORY,
        description=PACK_DESCRIPTION,
    )
