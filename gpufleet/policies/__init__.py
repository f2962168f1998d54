"""gpufleet's compliance and security rules, as plain functions over plain data.

`registry.POLICIES` lists them; `pack.py` wraps them for Pulumi CrossGuard and
`gpufleet/policy_runner.py` runs them over offline previews. Imported as
`gpufleet.policies`, installed with gpufleet (nothing edits sys.path).
"""

from .model import UNKNOWN, PolicyContext, PolicySpec, Resource, StackContext, Violation, is_unknown
from .registry import BY_ID, POLICIES

__all__ = ["BY_ID", "POLICIES", "UNKNOWN", "PolicyContext", "PolicySpec", "Resource", "StackContext", "Violation",
           "is_unknown"]
