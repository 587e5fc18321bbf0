"""The one month-arithmetic helper (models): the window, the parser, the client and the simulator use it."""

from __future__ import annotations

import datetime as dt

from metrika_tui.models import month_end, month_start, months_touched, next_month

D = dt.date


def test_month_edges_cross_the_year_and_know_leap_februaries():
    assert month_start(D(2024, 2, 29)) == D(2024, 2, 1)
    assert month_end(D(2024, 2, 10)) == D(2024, 2, 29) and month_end(D(2025, 2, 10)) == D(2025, 2, 28)
    assert next_month(D(2025, 12, 31)) == D(2026, 1, 1) and month_end(D(2025, 12, 1)) == D(2025, 12, 31)


def test_months_touched_lists_each_first_day_once_and_none_for_an_empty_range():
    assert months_touched(D(2025, 11, 15), D(2026, 1, 2)) == [D(2025, 11, 1), D(2025, 12, 1), D(2026, 1, 1)]
    assert months_touched(D(2026, 3, 5), D(2026, 3, 5)) == [D(2026, 3, 1)]
    assert months_touched(D(2026, 3, 5), D(2026, 2, 28)) == []
