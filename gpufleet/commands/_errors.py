"""The one "cannot run here" error every subcommand shares: exit 2, one line."""


class CannotRun(RuntimeError):
    """Nothing was done: bad arguments, missing tool or config (exit 2); str() is one line."""
