"""Entry point of the CrossGuard pack: `pulumi preview --policy-pack policy`.

Pulumi runs this file with policy/ on sys.path; the rules live in the installed
`gpufleet.policies` package (shared with `gpufleet preview`), so nothing here
edits sys.path and no generic module name can shadow them. Building `POLICIES` has no side
effects; only running as __main__ starts the analyzer (PolicyPack serves gRPC).
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from gpufleet.policies.pack import PACK_DESCRIPTION, PACK_NAME, pulumi_policies

POLICIES = pulumi_policies()

if __name__ == "__main__":
    PolicyPack(
        name=PACK_NAME,
        policies=POLICIES,
        # Every policy sets its own level; this applies only to a policy that would not.
        enforcement_level=EnforcementLevel.ADVISORY,
        description=PACK_DESCRIPTION,
    )
