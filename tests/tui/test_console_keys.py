"""Each key on the fake engine, asserting what the user then sees."""

from __future__ import annotations

import re

from metrika_tui.jobs import JobStatus
from metrika_tui.tui.widgets.counter_table import CounterTable
from metrika_tui.tui.widgets.log_pane import LogPane

from .conftest import console, make_app, screen_text, settled, toasts, wait_for
from .fake_engine import demo_world

SIZE = (160, 45)


def table(app) -> CounterTable:
    return app.main_screen.query_one(CounterTable)


def state_of(app, counter_id: int) -> str | None:
    words = table(app).words_of(counter_id)
    return words[1] if words else None


async def select(pilot, counter_id: int) -> None:
    t = table(pilot.app)
    t.move_cursor(row=t.get_row_index(str(counter_id)), animate=False)
    await pilot.pause()


async def test_the_main_screen_shows_states_summary_and_header(runtime):
    async with console(runtime) as (app, pilot):
        text = screen_text(app)
        assert "✗ FAILED" in text and "– DISABLED" in text and "○ PENDING" in text and "! OVERDUE" in text
        summary = (await runtime.engine.snapshot()).summary
        assert f"Total {summary.total} · in sync {summary.in_sync}" in text
        assert f"overall {summary.overall_percent}%" in text
        assert "scheduler running" in text and "workers 0/4" in text and "reports 87%" in text
        assert "alice (6 counters)" in text


async def test_force_sync_shows_queued_then_syncing_then_ok(runtime):
    engine = runtime.engine
    async with console(runtime, notifications=True) as (app, pilot):
        await select(pilot, 1003)  # overdue
        await pilot.press("f")
        await wait_for(pilot, lambda: state_of(app, 1003) == "◷ QUEUED", "1003 queued")
        await wait_for(pilot, lambda: any("queued ahead" in n for n in toasts(app)), "the toast")
        engine.start_queued()
        await wait_for(pilot, lambda: state_of(app, 1003) == "⟳ SYNCING", "1003 syncing")
        await engine.run_until_idle()
        await wait_for(pilot, lambda: state_of(app, 1003) == "✓ OK", "1003 ok")
        assert "done: 90 rows" in "\n".join(str(line.text) for line in app.main_screen.query_one(LogPane).lines)


async def test_disable_greys_the_row_and_it_is_never_planned(runtime):
    async with console(runtime) as (app, pilot):
        await select(pilot, 1003)
        await pilot.press("d")
        await wait_for(pilot, lambda: state_of(app, 1003) == "– DISABLED", "1003 disabled")
        name_cell = table(app).cell_text(1003, "name")
        assert name_cell.style == table(app).styles_for_cells.greyed
        await pilot.press("s")  # sync all due: the disabled counter stays out
        await wait_for(pilot, lambda: state_of(app, 1009) == "◷ QUEUED", "due counters queued")
        assert state_of(app, 1003) == "– DISABLED"
        await pilot.press("d")  # and back
        await wait_for(pilot, lambda: state_of(app, 1003) == "! OVERDUE", "1003 enabled")


async def test_filter_narrows_the_rows_and_escape_goes_back(runtime):
    async with console(runtime) as (app, pilot):
        await pilot.press("slash", *"failed")
        await wait_for(pilot, lambda: table(app).row_count == 2, "two failed rows")
        assert set(table(app).shown_ids) == {1005, 1011}
        assert "2 of 12 counters" in screen_text(app)
        await pilot.press("enter")
        assert table(app).has_focus
        await pilot.press("slash", *["backspace"] * 6, "escape")
        await wait_for(pilot, lambda: table(app).row_count == 12, "all rows back")
        assert not app.main_screen.has_class("-filtering")


async def test_retry_failed_requeues_the_failed_jobs(runtime):
    async with console(runtime, notifications=True) as (app, pilot):
        await pilot.press("r")
        await wait_for(pilot, lambda: state_of(app, 1005) == state_of(app, 1011) == "◷ QUEUED", "retried")
        await wait_for(pilot, lambda: any("requeued 2 failed job(s)" in n for n in toasts(app)), "the toast")


async def test_failed_view_retries_one_then_all(runtime):
    async with console(runtime) as (app, pilot):
        await pilot.press("F")
        await wait_for(pilot, lambda: "Failed jobs: 2" in screen_text(app), "the failed list")
        assert "wrong parameter 'metrics'" in screen_text(app)
        await pilot.press("r")  # the first: 1005
        await wait_for(pilot, lambda: "Failed jobs: 1" in screen_text(app), "one retried")
        assert runtime.engine.counters[1005].job is JobStatus.QUEUED
        await pilot.press("a")
        await wait_for(pilot, lambda: "No failed jobs" in screen_text(app), "all retried")
        await pilot.press("escape")
        await wait_for(pilot, lambda: state_of(app, 1011) == "◷ QUEUED", "main screen shows it")


async def test_force_all_asks_first(runtime):
    async with console(runtime) as (app, pilot):
        await pilot.press("S")
        await wait_for(pilot, lambda: "Force-sync all 12 counters" in screen_text(app), "the question")
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is app.main_screen, "the answer taken")
        await settled(pilot)
        assert not any(c.job for c in runtime.engine.counters.values())
        await pilot.press("S")
        await wait_for(pilot, lambda: "Force-sync all" in screen_text(app), "the question again")
        await pilot.press("y")
        await wait_for(pilot, lambda: state_of(app, 1001) == "◷ QUEUED", "ok counter forced too")
        assert sum(1 for c in runtime.engine.counters.values() if c.job) == 10  # not the 2 disabled


async def test_read_only_refuses_every_action_with_a_message(runtime):
    async with console(runtime, read_only=True, notifications=True) as (app, pilot):
        await select(pilot, 1003)
        for key in ("f", "d", "s", "S", "r", "p"):
            await pilot.press(key)
        await wait_for(pilot, lambda: len([n for n in toasts(app) if "read-only" in n]) == 6, "six refusals")
        assert not any(c.job for c in runtime.engine.counters.values())
        assert runtime.engine.counters[1003].active and not runtime.paused
        assert "Force-sync all" not in screen_text(app)  # refused before asking


async def test_pause_resume_the_scheduler_shows_in_the_header(runtime):
    async with console(runtime) as (app, pilot):
        await pilot.press("p")
        await wait_for(pilot, lambda: "scheduler paused" in screen_text(app), "paused in the header")
        assert runtime.paused and "next —" in screen_text(app)
        await pilot.press("p")
        await wait_for(pilot, lambda: "scheduler running" in screen_text(app), "running again")


async def test_log_toggle_follow_and_level(runtime):
    async with console(runtime) as (app, pilot):
        log = app.main_screen.query_one(LogPane)
        await pilot.press("l")
        assert not log.display
        await pilot.press("l", "z")
        assert log.display and not log.following
        assert "frozen" in screen_text(app)
        await wait_for(pilot, lambda: any("console started" in line.text for line in log.lines), "start line")
        await pilot.press("v", "v")  # info -> warning -> error: the info line goes
        await wait_for(pilot, lambda: not any("console started" in line.text for line in log.lines), "filtered")
        assert "error+" in screen_text(app)


async def test_copy_puts_the_selected_row_on_the_clipboard(runtime):
    async with console(runtime) as (app, pilot):
        await select(pilot, 1005)
        await pilot.press("c")
        assert app.clipboard.splitlines()[1].startswith("1005\t✗ FAILED\tSite 1005")


async def test_sort_key_and_header_click_reorder_keeping_the_selection(runtime):
    async with console(runtime) as (app, pilot):
        await select(pilot, 1011)
        await pilot.press("o")  # account -> attempts? no: the next column after "account"
        t = table(app)
        assert t.sort_column == "last"
        assert t.shown_ids[0] in (1004, 1006, 1010, 1012)  # never synced sorts first
        assert t.selected_counter.counter_id == 1011
        await pilot.press("O")
        assert t.shown_ids[-1] in (1004, 1006, 1010, 1012)
        await pilot.click("#counters", offset=(14, 0))  # the State header
        assert t.sort_column == "state"
        assert t.selected_counter.counter_id == 1011


async def test_help_lists_every_key_with_the_users_remapping(runtime):
    async with console(runtime, keys={"force-sync": "x"}) as (app, pilot):
        await select(pilot, 1003)
        await pilot.press("x")
        await wait_for(pilot, lambda: state_of(app, 1003) == "◷ QUEUED", "remapped key works")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: "Binding id" in screen_text(app), "the help screen")
        text = screen_text(app)
        assert re.search(r"\bx\s+force-sync\s+Sync the selected counter", text)
        assert "retry-failed" in text and "command-palette" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main_screen, "help closed")


async def test_palette_runs_an_action_by_name(runtime):
    async with console(runtime) as (app, pilot):
        await pilot.press("ctrl+p", *"retry failed")
        await wait_for(pilot, lambda: "Requeue every failed job" in screen_text(app), "the palette's hit")
        await pilot.press("enter")
        await wait_for(pilot, lambda: state_of(app, 1005) == "◷ QUEUED", "retried from the palette")


async def test_detail_pane_shows_the_selected_counter(runtime):
    async with console(runtime) as (app, pilot):
        await select(pilot, 1005)
        wanted = ("Details · 1005", "wrong parameter", "2025-03", "✗ 400 Bad Request")
        await wait_for(pilot, lambda: all(w in screen_text(app) for w in wanted), "details of 1005, drawn")
        assert app.main_screen.query_one("#detail-visits").data[-1] > 0  # 90 days, today last


async def test_narrow_terminal_hides_details_until_asked(runtime):
    async with console(runtime, size=(80, 24)) as (app, pilot):
        assert "Details" not in screen_text(app)
        await pilot.press("i")
        await wait_for(pilot, lambda: "Details" in screen_text(app), "details instead of the table")


async def test_empty_database_greets_with_what_to_do():
    runtime = demo_world(accounts=0)
    app = make_app(runtime)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "No accounts yet" in screen_text(app), "the welcome")
        text = screen_text(app)
        assert "metrika-tui accounts add" in text and "metrika-tui --demo" in text


async def test_quit_stops_the_runtime(runtime):
    async with console(runtime) as (app, pilot):
        await pilot.press("q")
        await pilot.pause()
    assert runtime.stopped


async def test_at_80_by_24_the_footer_and_the_help_show_what_matters_unscrolled(runtime):
    async with console(runtime, size=(80, 24)) as (app, pilot):
        await wait_for(pilot, lambda: "? Help" in screen_text(app).splitlines()[-1], "the footer")
        footer = screen_text(app).splitlines()[-1]
        assert footer.startswith("? Help q Quit f Force s Sync due r Retry F Failed / Filter"), footer
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: "Binding id" in screen_text(app), "the help screen")
        text = screen_text(app)
        assert "Esc, q or ? closes" in text and "⊘ REVOKED" in text and "○ PENDING" in text  # the legend
        assert re.search(r"\bq\s+quit\s+Quit: running jobs finish or are given back", text)
        assert text.index("? ") < text.index("q       quit") < text.index("force-sync")  # the most used first
