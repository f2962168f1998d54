"""Entry point for `pulumi up` / `pulumi preview` (Pulumi.yaml: main: infra/)."""

import pulumi

from infra.errors import StackConfigError
from infra.program import main

try:
    main()
except StackConfigError as exc:
    # One line, no traceback: RunError is reported by the engine as a plain message.
    raise pulumi.RunError(str(exc)) from None
