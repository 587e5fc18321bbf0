"""What a command raises when it cannot do what was asked, and the exit codes `main` turns it into.

The commands import this, never `metrika_tui.cli.main`: the dispatcher imports the commands,
so the arrows run one way (an import-linter contract keeps it so).
"""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CommandError(Exception):
    """A command cannot do what was asked; the message says why. `code` is the exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code
