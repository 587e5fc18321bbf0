"""The one event formatter: the log file's and the daemon's text and JSON lines, outside text made visible."""

from __future__ import annotations

import datetime as dt
import json

from metrika_tui.events import Event, Kind, Level, event_json, event_text, format_event

T = dt.datetime(2026, 3, 14, 9, 30, 5, tzinfo=dt.UTC)


def test_a_text_line_has_the_full_stamp_level_kind_and_counter():
    event = Event(Kind.RETRYING, "429: quota", level=Level.WARNING, ts=T, counter_id=101)
    assert event_text(event, tz=dt.UTC) == "2026-03-14 09:30:05 WARNING retrying counter=101 429: quota"


def test_control_characters_in_a_message_never_break_the_line():
    event = Event(Kind.FAILED, "name\nwith\x1b[31m escapes", ts=T, origin="evil\rhost:1")
    line = event_text(event, tz=dt.UTC)
    assert "\n" not in line and "\x1b" not in line and "\r" not in line
    assert "[other: evil" in line


def test_a_json_line_is_one_object_with_the_data_when_there_is_some():
    event = Event(Kind.DONE, "in sync\u2028", ts=T, counter_id=7, job_id=3, data={"rows": 12})
    line = format_event(event, "json")
    assert "\u2028" not in line and line == event_json(event)
    record = json.loads(line)
    assert record["kind"] == "done" and record["counter_id"] == 7 and record["data"] == {"rows": 12}
    assert record["message"] == "in sync\u2028" and record["ts"] == T.isoformat()
    assert "data" not in json.loads(event_json(Event(Kind.INFO, "x", ts=T)))
