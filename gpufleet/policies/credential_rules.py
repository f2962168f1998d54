"""No credential in plaintext, in the stack's config or in any resource input.

The config validator refuses provider credential *keys* that are not `secure:`;
this rule looks at *values*: an AWS access key id (AKIA...), an Alibaba Cloud
AccessKey id (LTAI...) or a PEM private key pasted into any config value (tags,
a release's env, annotations) or reaching any resource input ends up in state,
in `pulumi preview` output and in git. Secrets (`secure:` values, secret
outputs) are masked before this rule sees them.
"""

from __future__ import annotations

from typing import Sequence

from gpufleet.core.credentials import credential_values

from .model import PolicyContext, Resource, Violation

ADVICE = "store it with `pulumi config set --secret` or use the provider's credential chain, and rotate it"


def no_plaintext_keys(resources: Sequence[Resource], ctx: PolicyContext) -> list[Violation]:
    """No config value or resource input holds an access key id (AKIA..., LTAI...) or a PEM private key."""
    found = [Violation(f"config {path} holds {kind} in plaintext; {ADVICE}")
             for key in sorted(ctx.stack.config) for path, kind in credential_values(ctx.stack.config[key], key)]
    for resource in resources:
        found += [Violation(f"input {path} holds {kind} in plaintext; {ADVICE}", resource)
                  for path, kind in credential_values(dict(resource.props))]
    return found
