"""Entry point for the platform phase: `pulumi up` in the project root (Pulumi.yaml: main: infra/)."""

import pulumi

from gpufleet.core.errors import StackConfigError
from gpufleet.infra.entry import main

try:
    main()  # the platform phase; workloads/__main__.py runs the workloads phase
except StackConfigError as exc:
    # One line, no traceback: RunError is reported by the engine as a plain message.
    raise pulumi.RunError(str(exc)) from None
