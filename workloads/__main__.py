"""Entry point for the workloads phase: `pulumi -C workloads up` (workloads/Pulumi.yaml)."""

import pulumi

from gpufleet.core.errors import StackConfigError
from gpufleet.infra.entry import WORKLOADS, main

try:
    main(WORKLOADS)
except StackConfigError as exc:
    raise pulumi.RunError(str(exc)) from None
