"""The counter table draws only what is on screen: big tables, ageing without reads, spaced reads."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest

from metrika_tui.events import Kind
from metrika_tui.tui.bridge import SNAPSHOT_SPACING
from metrika_tui.tui.widgets.counter_table import CounterTable

from .conftest import console, screen_text, settled, wait_for
from .fake_engine import demo_world


def table(app) -> CounterTable:
    return app.main_screen.query_one(CounterTable)


async def test_twenty_thousand_rows_navigate_end_to_end():
    runtime = demo_world(accounts=4, per_account=5_000)
    async with console(runtime) as (app, pilot):
        t = table(app)
        await wait_for(pilot, lambda: t.row_count == 20_000, "every row", limit=20)
        first, last = t.shown_ids[0], t.shown_ids[-1]
        await pilot.press("end")
        await pilot.pause()
        assert t.selected_counter.counter_id == last
        assert f" {last} " in screen_text(app) and f" {first} " not in screen_text(app)
        line = t.cursor_row - t.scroll_y
        await pilot.press("pageup", "pageup")
        await pilot.pause()
        assert t.cursor_row == t.row_count - 1 - 2 * t.page_rows
        assert t.cursor_row - t.scroll_y == line  # the view went a page with the cursor
        await pilot.press("home")
        await pilot.pause()
        assert t.selected_counter.counter_id == first and t.scroll_y == 0
        await pilot.click("#counters", offset=(3, 4))  # the fourth row under the header
        await pilot.pause()
        assert t.selected_counter.counter_id == t.shown_ids[3]


async def test_relative_times_age_without_reading_the_engine():
    runtime = demo_world()
    async with console(runtime, bridge_options={"ageing_interval": 0.05}) as (app, pilot):
        t = table(app)
        assert t.words_of(1001)[4] == "5m ago"
        reads = runtime.engine.snapshot_calls
        app.main_screen._snapshot_arrived -= 600  # ten minutes pass
        await wait_for(pilot, lambda: t.words_of(1001)[4] == "15m ago", "the row aged")
        await wait_for(pilot, lambda: " 1001 " in screen_text(app) and "15m ago" in screen_text(app), "on screen")
        assert runtime.engine.snapshot_calls == reads


@pytest.mark.slow
async def test_a_slow_snapshot_spaces_the_next_reads():
    runtime = demo_world()
    engine = runtime.engine
    real_snapshot = engine.snapshot
    reads: list[tuple[float, float]] = []  # (started, ended), monotonic

    async def slow_snapshot(**partial):
        started = time.monotonic()
        await asyncio.sleep(0.1)
        snapshot = await real_snapshot(**partial)
        reads.append((started, time.monotonic()))
        return snapshot

    engine.snapshot = slow_snapshot
    async with console(runtime) as (app, pilot):
        for _ in range(100):  # news every 20 ms for 2 s: each flush finds the view dirty
            engine.bus.emit(Kind.FETCHED, "fetched", counter_id=1001)
            await pilot.pause(0.02)
    assert len(reads) >= 2
    for (_, ended), (next_started, _) in zip(reads, reads[1:]):
        # unspaced, the next read would start at the next 20 ms flush
        assert next_started - ended >= SNAPSHOT_SPACING * 0.1 * 0.99 > 0


async def test_the_engine_is_read_again_when_a_state_turns_with_the_clock_not_before():
    runtime = demo_world()
    engine = runtime.engine
    # counter 1001 was synced at 09:25: the 10:00 slot should plan it, and with nothing queued it
    # turns OVERDUE at 10:02 (the slot and its grace), which no event announces; it is 0.5 s before
    engine.counters[1001].last_fetched_at = engine.clock.now() - dt.timedelta(minutes=5)
    engine.clock.advance(seconds=(dt.timedelta(minutes=32) - dt.timedelta(seconds=0.5)).total_seconds())
    async with console(runtime, bridge_options={"ageing_interval": 0.05}) as (app, pilot):
        await settled(pilot, "the start-up's reads")
        reads = engine.snapshot_calls
        ticks = app.main_screen.bridge.ageing_ticks
        await wait_for(pilot, lambda: app.main_screen.bridge.ageing_ticks >= ticks + 3, "three ageing ticks")
        await settled(pilot)
        assert engine.snapshot_calls == reads  # ageing ticked, but nothing was due yet
        engine.clock.advance(seconds=1)
        await wait_for(pilot, lambda: table(app).words_of(1001)[1] == "! OVERDUE", "the row turned overdue")
        assert engine.snapshot_calls == reads + 1


async def test_a_read_after_events_asks_only_for_the_counters_they_named():
    runtime = demo_world()
    engine = runtime.engine
    async with console(runtime) as (app, pilot):
        reads = engine.snapshot_calls
        engine.bus.emit(Kind.STARTED, "started", counter_id=1001)
        engine.bus.emit(Kind.DONE, "done", counter_id=1002)
        await wait_for(pilot, lambda: engine.snapshot_calls > reads, "a read")
        assert engine.snapshot_changed[-1] == {1001, 1002}
        reads = engine.snapshot_calls
        engine.bus.emit(Kind.DONE, "done", counter_id=1003)
        engine.bus.emit(Kind.PLANNED, "planned a pass")  # names no counter: read everything
        await wait_for(pilot, lambda: engine.snapshot_calls > reads, "a read")
        assert engine.snapshot_changed[-1] is None
