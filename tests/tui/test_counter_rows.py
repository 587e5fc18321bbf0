"""The words of a row, the filter and the clipboard text, without a terminal."""

from __future__ import annotations

import datetime as dt

from metrika_tui.engine.status import CounterState
from metrika_tui.tui.counter_rows import COLUMNS, matches, row_as_text, row_words, short_error
from metrika_tui.tui.theme_styles import STATE_LOOK, ThemeStyles, state_text

from .fake_engine import T0, demo_world


async def statuses():
    runtime = demo_world()
    return {c.counter_id: c for c in (await runtime.engine.snapshot()).counters}


async def test_an_ok_row_reads_ago_and_in():
    words = dict(zip((c.key for c in COLUMNS), row_words((await statuses())[1001], T0)))
    assert words["state"] == "✓ OK"
    assert words["last"] == "5m ago"
    assert words["next"] == "in 30m"  # synced 09:25, due from 09:55: the 10:00 slot
    assert words["account"] == "alice"


async def test_a_disabled_row_has_no_next_due_and_a_failed_one_shows_attempts_and_error():
    rows = await statuses()
    disabled = dict(zip((c.key for c in COLUMNS), row_words(rows[1006], T0)))
    failed = dict(zip((c.key for c in COLUMNS), row_words(rows[1005], T0)))
    assert (disabled["state"], disabled["next"]) == ("– DISABLED", "—")
    assert failed["attempts"] == "5"
    assert failed["error"].startswith("400 Bad Request")


def test_every_state_has_its_own_symbol_and_reads_without_colour():
    symbols = [symbol for symbol, _ in STATE_LOOK.values()]
    assert len(set(symbols)) == len(CounterState)
    assert all(state_text(state).endswith(state.label) for state in CounterState)


def test_theme_styles_come_from_theme_variables_and_blend_alpha():
    styles = ThemeStyles(
        {
            "background": "#000000",
            "success": "#00ff00",
            "foreground-muted": "#ffffff80",
            "error": "#ff0000",
            "warning": "#ffff00",
        }
    )
    assert styles.states[CounterState.OK].color.triplet.hex == "#00ff00"
    assert styles.greyed.dim
    assert styles.greyed.color.triplet.hex == "#808080"  # half-white over black, Rich has no alpha


def test_short_error_takes_the_first_line_and_ellipsizes():
    assert short_error("boom\nstack trace") == "boom"
    assert short_error("x" * 100, width=10) == "x" * 9 + "…"
    assert short_error(None) == ""


async def test_filter_words_must_all_match_any_field():
    rows = await statuses()
    assert matches(rows[1005], "failed alice")
    assert matches(rows[1005], "BAD REQUEST")
    assert not matches(rows[1005], "failed bob")
    assert matches(rows[1005], "   ")


async def test_clipboard_text_is_a_header_and_the_full_row():
    text = row_as_text((await statuses())[1005], T0 + dt.timedelta(minutes=1))
    header, row = text.split("\n")
    assert header.split("\t")[:2] == ["Counter", "State"]
    assert row.split("\t")[0] == "1005"
    assert row.endswith("400 Bad Request: wrong parameter 'metrics'")


def test_every_action_in_the_registry_has_a_handler_and_a_unique_id_and_key():
    from metrika_tui.tui.commands import ACTIONS, APP_KEYS
    from metrika_tui.tui.screens.main_screen import MainScreen

    assert all(callable(getattr(MainScreen, f"action_{a.action}", None)) for a in ACTIONS)
    ids = [a.id for a in ACTIONS] + [bid for bid, _, _ in APP_KEYS]
    keys = [a.key for a in ACTIONS] + [key for _, key, _ in APP_KEYS]
    assert len(set(ids)) == len(ids) and len(set(keys)) == len(keys)
