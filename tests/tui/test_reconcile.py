"""The table is reconciled by key: bursts coalesce, only changed cells move, the cursor stays."""

from __future__ import annotations

from metrika_tui.events import Kind
from metrika_tui.jobs import JobStatus
from metrika_tui.tui.widgets.counter_table import CounterTable

from .conftest import make_app, settled, wait_for
from .fake_engine import demo_world


def table(app) -> CounterTable:
    return app.main_screen.query_one(CounterTable)


async def test_a_burst_of_events_becomes_one_or_two_snapshot_reads():
    runtime = demo_world(accounts=4, per_account=50)
    engine = runtime.engine
    app = make_app(runtime)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 200, "all rows")
        await settled(pilot)
        before = engine.snapshot_calls
        for counter in list(engine.counters.values())[: 1000 // 5]:
            for _ in range(5):  # 1,000 events in one go
                engine.bus.emit(Kind.FETCHED, "fetched 90 rows", counter_id=counter.id)
        await wait_for(pilot, lambda: engine.snapshot_calls > before, "a refresh after the burst")
        await settled(pilot, "every read the burst asked for")
        assert engine.snapshot_calls - before <= 2


async def test_reconcile_keeps_the_cursor_on_its_counter_and_its_line():
    runtime = demo_world(accounts=2, per_account=30)
    engine = runtime.engine
    app = make_app(runtime)
    async with app.run_test(size=(160, 45)) as pilot:
        t = table(app)
        await wait_for(pilot, lambda: t.row_count == 60, "all rows")
        t.move_cursor(row=t.get_row_index("1040"), animate=False)
        await pilot.pause()
        line_before = t.cursor_row - t.scroll_y
        # rows appear before it and vanish, states change all over
        engine.add_account(0, "aaron")
        for n in range(3):
            engine.add_counter(900 + n, 0, f"New {n}")
        for counter_id in (1001, 1002):
            del engine.counters[counter_id]
        for counter in list(engine.counters.values())[::3]:
            counter.job = JobStatus.QUEUED
        engine.bus.emit(Kind.PLANNED, "planned")
        await wait_for(pilot, lambda: t.row_count == 61 and t.words_of(900) is not None, "new rows shown")
        assert t.selected_counter.counter_id == 1040
        assert t.shown_ids[:3] == [900, 901, 902]
        assert t.words_of(1001) is None
        await pilot.pause()
        assert t.cursor_row - t.scroll_y == line_before  # the selected row stayed on its screen line


async def test_an_unchanged_snapshot_touches_no_cell():
    runtime = demo_world()
    app = make_app(runtime)
    async with app.run_test(size=(160, 45)) as pilot:
        t = table(app)
        await wait_for(pilot, lambda: t.row_count == 12, "all rows")
        snapshot = await runtime.engine.snapshot()
        stats = t.reconcile(snapshot.counters, snapshot.taken_at)
        assert (stats.added, stats.removed, stats.changed, stats.resorted) == (0, 0, 0, False)
        runtime.engine.counters[1003].job = JobStatus.QUEUED
        snapshot = await runtime.engine.snapshot()
        stats = t.reconcile(snapshot.counters, snapshot.taken_at)
        assert stats.changed == 1
        assert t.words_of(1003)[1] == "◷ QUEUED"
