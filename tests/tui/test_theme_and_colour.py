"""State colours come from the theme (and follow it); without colour the words still say it all."""

from __future__ import annotations

from rich.color import Color as RichColor
from textual.color import Color

from metrika_tui.engine.status import CounterState
from metrika_tui.jobs import JobStatus
from metrika_tui.tui.widgets.counter_table import CounterTable

from .conftest import console, screen_text, wait_for
from .fake_engine import demo_world


def state_cell_colour(app, counter_id: int):
    return app.main_screen.query_one(CounterTable).cell_text(counter_id, "state").style.color


async def test_state_colours_follow_the_theme():
    async with console(demo_world()) as (app, pilot):
        expected = Color.parse(app.theme_variables["success"]).rich_color
        assert state_cell_colour(app, 1001) == expected
        app.theme = "gruvbox"
        new = Color.parse(app.get_css_variables()["success"]).rich_color
        assert new != expected
        await wait_for(pilot, lambda: state_cell_colour(app, 1001) == new, "repainted in the new theme")
        assert state_cell_colour(app, 1005) == Color.parse(app.theme_variables["error"]).rich_color


async def test_no_color_still_reads_every_state(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    world = demo_world(accounts=3)
    world.engine.counters[1001].job, world.engine.counters[1002].job = JobStatus.QUEUED, JobStatus.RUNNING
    async with console(world) as (app, pilot):
        assert app.no_color
        text = screen_text(app)
        for state in CounterState:
            assert state.label in text, state
        assert isinstance(state_cell_colour(app, 1001), RichColor)  # colour is Textual's to drop
