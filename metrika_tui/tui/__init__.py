"""The interactive console (Textual). Only the CLI imports this; the engine never does."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from metrika_tui.engine.contract import ConsoleRuntime


def run_console(runtime: ConsoleRuntime, *, read_only: bool = False) -> int:
    """Run the console on this terminal until the user quits; the exit code for the CLI."""
    from metrika_tui.tui.app import MetrikaApp

    app = MetrikaApp(runtime, read_only=read_only)
    result = app.run()
    if app.return_code not in (None, 0):
        return app.return_code
    return 0 if result is None else int(result)
