"""Each login's day on screen: its quota used (a small bar), how often its counters are synced,
and a stretched cadence marked; a spent login says so."""

from __future__ import annotations

import datetime as dt

from metrika_tui.engine.planner import pace_of
from metrika_tui.store.rows import LoginDay
from metrika_tui.tui.widgets.status_lines import quota_text

from .conftest import console, screen_text
from .fake_engine import T0, demo_world


def pace(used: int, counters: int, **day):
    return pace_of(LoginDay("alice", used=used, counters=counters, **day), demo_world().engine.settings, T0)


def test_the_quota_words_of_a_login_within_and_beyond_its_quota():
    assert quota_text(pace(120, 10)) == "▱▱▱▱▱ 120/5k today, every 1h"
    # 500 counters need 12,000 a day; a whole day of 4,750 allows each one every 2h 31m, what is left of
    # today (2,450 over 14h 30m) every 2h 57m
    stretched = pace(2300, 500)
    assert stretched.stretched and quota_text(stretched) == "▰▰▱▱▱ 2.3k/5k today, every 2h 57m ⚠"
    spent = pace(4000, 10, spent_until=T0 + dt.timedelta(hours=14))
    assert quota_text(spent) == "▰▰▰▰▱ 4k/5k today, spent"


async def test_the_accounts_line_shows_each_logins_quota_and_cadence():
    runtime = demo_world()
    runtime.engine.paces = {"alice": pace(2300, 500)}
    async with console(runtime) as (app, pilot):
        assert "alice (6 counters, ▰▰▱▱▱ 2.3k/5k today, every 2h 57m ⚠)" in screen_text(app)
