"""Entry point for `pulumi up` / `pulumi preview` (Pulumi.yaml: main: infra/)."""

import pulumi

from gpufleet.core.errors import StackConfigError
from gpufleet.infra.entry import main

try:
    main()
except StackConfigError as exc:
    # One line, no traceback: RunError is reported by the engine as a plain message.
    raise pulumi.RunError(str(exc)) from None
