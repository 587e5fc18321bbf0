"""What makes an answer a bad answer, as pure functions: rows, figures, paging and sampling."""

from __future__ import annotations

import datetime as dt

import pytest

from metrika_tui.metrika import parse
from metrika_tui.metrika.errors import BadAnswer
from metrika_tui.models import DAILY_METRICS, DailyStat, MonthUsers, counter_zone

D1, D2 = dt.date(2026, 3, 1), dt.date(2026, 3, 10)


def page(*rows) -> dict:
    return {
        "query": {"metrics": list(DAILY_METRICS)},
        "data": [{"dimensions": [{"name": day}], "metrics": metrics} for day, metrics in rows],
    }


def day(date: dt.date, visits: int = 5) -> DailyStat:
    return DailyStat(date, visits, 4, 9, 20.0, 60.0)


@pytest.mark.parametrize(
    ("metrics", "words"),
    [
        ([-1381, 1, 1, 0, 0], "visits is negative (-1381)"),
        ([float("nan"), 1, 1, 0, 0], "not a finite number: nan"),
        ([float("inf"), 1, 1, 0, 0], "not a finite number: inf"),
        ([1e30, 1, 1, 0, 0], "visits of 1e+30 is past belief"),
        ([5, 1, 1, 140.0, 0], "bounce rate of 140 is outside 0..100"),
        ([5, 1, 1, 0, -3], "average visit duration of -3"),
        ([5, "many", 1, 0, 0], "not a number: 'many'"),
        ([5, True, 1, 0, 0], "not a number: True"),
    ],
)
def test_figures_that_cannot_be_are_a_bad_answer(metrics, words):
    with pytest.raises(BadAnswer, match=words.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")):
        parse.parse_daily_rows(page(("2026-03-02", metrics)))


def test_good_rows_pass_and_null_means_zero():
    (row,) = parse.parse_daily_rows(page(("2026-03-02", [14234, None, 2.0, 25.5, 61.2])))
    assert (row.visits, row.users, row.pageviews, row.bounce_rate) == (14234, 0, 2, 25.5)


def test_rows_outside_the_window_or_twice_are_a_bad_answer():
    parse.check_days([day(D1), day(D2)], D1, D2)
    with pytest.raises(BadAnswer, match=r"a row for 1999-01-01, outside the asked days 2026-03-01\.\.2026-03-10"):
        parse.check_days([day(D1), day(dt.date(1999, 1, 1))], D1, D2)
    with pytest.raises(BadAnswer, match="2026-03-01 comes twice"):
        parse.check_days([day(D1), day(D1, visits=0)], D1, D2)
    parse.check_months([MonthUsers(dt.date(2026, 2, 1), 7), MonthUsers(D1, 9)], dt.date(2026, 2, 14), D2)
    with pytest.raises(BadAnswer, match="the month 2099-12, outside"):
        parse.check_months([MonthUsers(dt.date(2099, 12, 1), 7)], D1, D2)
    with pytest.raises(BadAnswer, match="the month 2026-03 comes twice"):
        parse.check_months([MonthUsers(D1, 7), MonthUsers(D1, 8)], D1, D2)


def test_paging_is_bounded_by_what_can_exist_and_stops_on_a_repeat_or_a_hole():
    assert parse.pages_needed(0, 100, most_rows=10, most_pages=5, what="r") == 1
    assert parse.pages_needed(250, 100, most_rows=400, most_pages=5, what="r") == 3
    with pytest.raises(BadAnswer, match="claims 1000000000 rows, and at most 10 can exist"):
        parse.pages_needed(10**9, 100, most_rows=10, most_pages=5, what="r")
    with pytest.raises(BadAnswer, match="6 pages"):
        parse.pages_needed(600, 100, most_rows=10**6, most_pages=5, what="r")
    parse.check_page([], None, offset=1, total=0, what="r")  # an empty report is an empty report
    with pytest.raises(BadAnswer, match="offset 101 is empty, though the answer claims 250 rows"):
        parse.check_page([], [1, 2], offset=101, total=250, what="r")
    with pytest.raises(BadAnswer, match="offset 101 repeats the page before it"):
        parse.check_page([1, 2], [1, 2], offset=101, total=250, what="r")
    with pytest.raises(BadAnswer, match="not a whole number"):
        parse.whole_number(float("inf"), "total_rows")
    with pytest.raises(BadAnswer, match="negative"):
        parse.whole_number(-5, "total_rows")


def test_sampling_is_read_from_either_field_and_checked():
    assert parse.sampling({}) == (False, 1.0)
    assert parse.sampling({"sampled": False, "sample_share": 1.0}) == (False, 1.0)
    assert parse.sampling({"sampled": True, "sample_share": 0.1}) == (True, 0.1)
    assert parse.sampling({"sample_share": 0.5}) == (True, 0.5)
    for bad in ({"sample_share": 0}, {"sample_share": 7}, {"sample_share": float("nan")}, {"sampled": "yes"}):
        with pytest.raises(BadAnswer):
            parse.sampling(bad)


def test_an_unknown_time_zone_falls_back_to_the_offset():
    assert str(counter_zone("Europe/Moscow", 0)) == "Europe/Moscow"
    for name in ("Mars/Olympus", "../../etc/passwd", "bad\x00zone", ""):
        assert counter_zone(name, 180).utcoffset(None) == dt.timedelta(hours=3)
    assert counter_zone("Mars/Olympus", None).utcoffset(None) == dt.timedelta(0)
    counter = parse.parse_counter({"id": 5, "time_zone_name": "Mars/Olympus", "time_zone_offset": 99999})
    assert counter.time_zone_offset is None  # past UTC+14: not an offset
    assert parse.parse_counter({"id": 5, "name": "x" * 5000}).name.endswith("…")
