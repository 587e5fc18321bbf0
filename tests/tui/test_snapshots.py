"""The main screen pinned at 80x24 and 160x45 (fixed clock, fixed world)."""

from __future__ import annotations

import pytest

from .conftest import make_app, screen_text, wait_for
from .fake_engine import demo_world


async def settled(pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: "console started" in screen_text(app) and "Total" in screen_text(app), "loaded")
    if app.size.width >= 120:
        await wait_for(pilot, lambda: "Details · 1001" in screen_text(app), "details loaded")
    await still(pilot)


async def still(pilot, rounds: int = 3) -> None:
    """Wait until the screen stops changing (a loaded table can take a frame more to size its columns)."""
    previous, same = None, 0
    for _ in range(100):
        await pilot.pause(0.05)
        current = screen_text(pilot.app)
        same = same + 1 if current == previous else 0
        if same >= rounds:
            return
        previous = current
    raise AssertionError("the screen never settled")


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])
def test_main_screen(snap_compare, size):
    assert snap_compare(make_app(demo_world(accounts=3)), terminal_size=size, run_before=settled)


def test_failed_view(snap_compare):
    async def open_failed(pilot) -> None:
        await settled(pilot)
        await pilot.press("F")
        await wait_for(pilot, lambda: "Failed jobs: 2" in screen_text(pilot.app), "failed list")

    assert snap_compare(make_app(demo_world()), terminal_size=(100, 24), run_before=open_failed)
