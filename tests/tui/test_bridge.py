"""The one bridge: events buffered and delivered in one message, bounded, other processes' marked."""

from __future__ import annotations

from metrika_tui.events import TIME_STAMP, Event, Kind, event_text, format_event
from metrika_tui.tui.widgets.log_pane import LogPane

from .conftest import console, wait_for
from .fake_engine import T0, demo_world


async def test_a_flood_beyond_the_buffer_says_how_many_lines_were_skipped():
    runtime = demo_world()
    async with console(runtime, bridge_options={"buffer_limit": 50}) as (app, pilot):
        log = app.main_screen.query_one(LogPane)
        for n in range(120):
            runtime.engine.bus.emit(Kind.FETCHED, f"fetched {n}", counter_id=1001, ts=T0)
        await wait_for(pilot, lambda: any("fetched 119" in line.text for line in log.lines), "the newest line")
        text = "\n".join(line.text for line in log.lines)
        assert "70 events skipped" in text
        assert "fetched 69" not in text and "fetched 70" in text


def test_a_line_from_another_process_names_it():
    from zoneinfo import ZoneInfo

    foreign = Event(Kind.DONE, "done", ts=T0, counter_id=7, origin="server-2:4242")
    own = Event(Kind.DONE, "done", ts=T0, counter_id=7)
    utc = ZoneInfo("UTC")
    assert (
        event_text(foreign, tz=utc, stamp=TIME_STAMP)
        == "09:30:00 INFO    done     counter=7 [other: server-2:4242] done"
    )
    assert event_text(own, tz=utc, stamp=TIME_STAMP) == "09:30:00 INFO    done     counter=7 done"
    assert format_event(foreign, "text").endswith(
        "counter=7 [other: server-2:4242] done"
    )  # the log file's, the daemon's
