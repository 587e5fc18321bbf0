"""The interactive console: the Runtime, shown and steered by the Textual app."""

from __future__ import annotations

from metrika_tui.settings import Settings


def run_console_command(settings: Settings, *, read_only: bool = False) -> int:
    from metrika_tui.demo import demo_simulator
    from metrika_tui.engine.runtime import Runtime
    from metrika_tui.tui import run_console

    with demo_simulator(settings) as resolved:
        runtime = Runtime(resolved, schedule=not read_only, workers=not read_only)
        return run_console(runtime, read_only=read_only)
