"""The gpufleet CrossGuard policy pack.

`pulumi preview --policy-pack policy` runs `policy/__main__.py`; `gpufleet preview`
imports the same rules from `policy.gpufleet_policies` and runs them offline.
"""
