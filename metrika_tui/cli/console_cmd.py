"""The interactive console: the Runtime, shown and steered by the Textual app."""

from __future__ import annotations

from metrika_tui.settings import Settings


def run_console_command(settings: Settings, *, read_only: bool = False) -> int:
    from metrika_tui.demo import demo_simulator, seed_demo
    from metrika_tui.engine.runtime import Runtime
    from metrika_tui.events import Kind
    from metrika_tui.metrics import serving_metrics
    from metrika_tui.tui import run_console

    with serving_metrics(settings) as metrics, demo_simulator(settings) as resolved:  # a port in use: at once

        def on_engine(runtime: Runtime) -> None:
            if metrics is not None:
                metrics.exporter.attach(runtime)
                runtime.opened.bus.emit(Kind.INFO, f"serving metrics on {metrics.url}")

        runtime = Runtime(
            resolved,
            schedule=not read_only,
            workers=not read_only,
            on_engine=on_engine if metrics else None,
            prepare=seed_demo,
        )
        return run_console(runtime, read_only=read_only)
