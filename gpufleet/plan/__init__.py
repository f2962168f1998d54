"""Capacity planning from measurement (`gpufleet plan`).

`sweep` finds the knee (the highest open-loop rate one replica serves within
the stack's SLO) through `measure` (the load-test gate at one rate); `fleet`
turns it into replicas and GPU nodes; `costing` prices that with the existing
cost engine; `limits` and `verify` refuse what the cloud or the stack's rules
cannot carry; `writeback` edits the stack file; `report` writes JSON and HTML.
"""
