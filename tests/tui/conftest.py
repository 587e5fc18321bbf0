"""Fixtures for driving the console on the fake engine, fast: a short bridge flush."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest

from metrika_tui.tui.app import MetrikaApp

from .fake_engine import FakeRuntime, demo_world

FAST_BRIDGE = {"flush_interval": 0.02, "ageing_interval": 60.0}


def make_app(runtime: FakeRuntime, *, bridge_options=None, **kwargs) -> MetrikaApp:
    return MetrikaApp(runtime, bridge_options={**FAST_BRIDGE, **(bridge_options or {})}, **kwargs)


def screen_text(app: MetrikaApp) -> str:
    """What the terminal shows right now, as plain text lines."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def toasts(app: MetrikaApp) -> list[str]:
    """The words of every toast on screen now (title and message), as the user reads them."""
    return [toast.render().plain for toast in app.screen.query("Toast")]


async def wait_for(pilot, condition: Callable[[], bool], what: str, limit: float = 3.0) -> None:
    """Let the app run until `condition` holds (bounded, so a broken console fails, not hangs)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await pilot.pause(0.02)


async def settled(pilot, what: str = "the bridge settled") -> None:
    """A barrier before saying something did not happen: every event given to the bridge is
    delivered and every read it asked for is done, so nothing else comes unless the engine speaks."""
    bridge = pilot.app.main_screen.bridge
    await wait_for(pilot, lambda: bridge.settled, what)
    await pilot.pause()  # the messages it posted are handled


@pytest.fixture
def runtime() -> FakeRuntime:
    return demo_world()


@contextlib.asynccontextmanager
async def console(
    runtime: FakeRuntime, size=(160, 45), *, notifications: bool = False, **kwargs
) -> AsyncIterator[tuple[MetrikaApp, object]]:
    """The running console, after its first snapshot is on screen; `notifications`: toasts shown."""
    from metrika_tui.tui.widgets.counter_table import CounterTable

    app = make_app(runtime, **kwargs)
    async with app.run_test(size=size, notifications=notifications) as pilot:
        table = app.main_screen.query_one(CounterTable)
        await wait_for(
            pilot,
            lambda: runtime.started and (table.row_count > 0 or not runtime.engine.counters),
            "the first snapshot",
        )
        yield app, pilot
