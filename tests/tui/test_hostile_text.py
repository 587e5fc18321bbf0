"""The console with names, logins and errors written by strangers: escape sequences that would wipe
the screen or write the clipboard, newlines, and text that looks like Rich markup.

Every widget that shows outside text is driven (the table, the detail pane with its attempts, the
accounts and header lines, the log pane, a toast, the failed jobs screen, the copied row) and the
screen must hold the literal text, its controls made visible, never a raw control character, and
the console must still be running.
"""

from __future__ import annotations

import datetime as dt

from metrika_tui.clock import ManualClock
from metrika_tui.events import Kind, Level
from metrika_tui.text import visible
from metrika_tui.tui.screens.failed_jobs import FailedJobsScreen
from metrika_tui.tui.widgets.counter_table import CounterTable

from .conftest import console, screen_text, wait_for
from .fake_engine import T0, FakeEngine, FakeRuntime, attempt

WIPE = "\x1b[2J\x1b[31mRED"
OSC52 = "osc52\x1b]52;c;ZXZpbA==\x07end"
MARKUP_NAME = "Магазин [old] v2"
CLOSE_TAG = "unbalanced [/] close"
FORGED = "bad\r\n2025-01-01 00:00:00 INFO done forged"
LOGIN = "evil\x1b[31mlogin[b]"
C1 = "csi\x9b31mC1\u202eevil"


def _raw_controls(text: str) -> list[str]:
    """Characters a terminal would act on (the screen's own line breaks aside)."""
    return sorted(
        {
            hex(ord(ch))
            for ch in text
            if (ord(ch) < 0x20 and ch != "\n") or 0x7F <= ord(ch) <= 0x9F or ch in "\u202e\u2028"
        }
    )


def hostile_runtime() -> FakeRuntime:
    from pathlib import Path

    from metrika_tui.settings import Settings

    clock = ManualClock(T0)
    engine = FakeEngine(Settings(db_path=Path("/tmp/hostile.db"), workers=2), clock)
    now = clock.now()
    engine.add_account(1, LOGIN)
    engine.add_counter(101, 1, WIPE, last_fetched_at=now - dt.timedelta(minutes=5))
    engine.add_counter(102, 1, OSC52, last_fetched_at=now - dt.timedelta(minutes=6))
    engine.add_counter(103, 1, MARKUP_NAME, last_fetched_at=now - dt.timedelta(minutes=7))
    failed = engine.add_counter(104, 1, C1, last_attempt_at=now, attempts=2, last_error=CLOSE_TAG)
    failed.history.append(attempt(104, now, error=CLOSE_TAG))
    other = engine.add_counter(105, 1, "line\nbreak", last_attempt_at=now, attempts=1, last_error=FORGED)
    other.history.append(attempt(105, now, error=FORGED))
    engine.counters[101].site = "x\x1b[8mhidden.example"
    return FakeRuntime(engine)


def assert_clean_and_shows(app, *literals: str) -> str:
    text = screen_text(app)
    assert _raw_controls(text) == [], text
    for literal in literals:
        assert visible(literal) in text, (literal, text)
    return text


async def test_every_widget_shows_hostile_text_literally_and_never_raw():
    runtime = hostile_runtime()
    engine = runtime.engine
    async with console(runtime, size=(200, 50)) as (app, pilot):
        table = app.main_screen.query_one(CounterTable)
        assert table.row_count == 5
        engine.bus.emit(
            Kind.FAILED, f"{CLOSE_TAG} {WIPE} {OSC52}", level=Level.ERROR, counter_id=104, ts=engine.clock.now()
        )
        engine.bus.emit(Kind.INFO, FORGED, origin="other\x1b[2J:1", ts=engine.clock.now())
        await wait_for(pilot, lambda: "forged" in screen_text(app), "the log lines")
        text = assert_clean_and_shows(app, WIPE, OSC52, MARKUP_NAME, LOGIN, CLOSE_TAG)
        assert "␛[2J␛[31mRED" in text and "osc52␛]52;c;ZXZpbA==␇end" in text
        assert "bad␍␊2025-01-01" in text  # the forged log line stays inside its own line

        # the detail pane of the failed counter: its title, last error and attempts
        table.move_cursor(row=table.get_row_index(104))
        await wait_for(pilot, lambda: app.main_screen.query_one("#detail").counter_id == 104, "the details")
        await pilot.pause(0.1)
        assert_clean_and_shows(app, CLOSE_TAG, C1)

        # a toast whose words are outside text (an engine error carrying the API's message)
        async def refuse(counter_id: int):
            raise RuntimeError(f"{CLOSE_TAG} {OSC52}")

        engine.force_sync = refuse
        await pilot.press("f")
        await wait_for(pilot, lambda: "ZXZpbA==␇end" in screen_text(app) and "Failed" in screen_text(app), "the toast")
        assert_clean_and_shows(app, CLOSE_TAG)

        # the failed jobs screen
        await pilot.press("F")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, FailedJobsScreen) and "line␊break" in screen_text(app),
            "the failed jobs",
        )
        assert visible(C1)[:12] in assert_clean_and_shows(app, CLOSE_TAG, "line\nbreak")  # a narrow column
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main_screen, "back on the main screen")

        # the row copied to the clipboard holds no control either
        table.move_cursor(row=table.get_row_index(101))
        await pilot.press("c")
        await pilot.pause(0.05)
        assert _raw_controls(app.clipboard.replace("\t", " ")) == [] and "␛[2J" in app.clipboard  # tabs: ours
        assert app.is_running


async def test_filtering_finds_a_name_with_markup_in_it():
    async with console(hostile_runtime(), size=(200, 50)) as (app, pilot):
        await pilot.press("slash", *"[old]")
        table = app.main_screen.query_one(CounterTable)
        await wait_for(pilot, lambda: table.row_count == 1, "the filtered row")
        assert_clean_and_shows(app, MARKUP_NAME)
