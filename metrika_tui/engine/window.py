"""What one sync reads: its window of days, and the fewest report requests that cover it.

The window runs from the last fetched day minus a look-back (the newest days are not final)
or, on a first sync, from the backfill start, through today in the counter's own time zone;
its start is moved back to the first of its month, so every month touched is read whole and
its users (a month's users are not a sum of its days) come from the API.

Those users come one of two ways (`[sync] month_users`):
- "totals": one daily request per month touched, from the month's first day: the answer's
  `totals` are computed over the whole requested range (ClickHouse's `WITH TOTALS`), so its
  users total is that month's users. A window inside one month costs one request.
- "dimension": the daily rows, then the users by `ym:s:startOfMonth`: always two.
With "totals", a window touching three months or more (a first sync's backfill) is read the
"dimension" way, which is then fewer requests. The planner prices a sync with the same
functions, so what it budgets is what the job spends.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from metrika_tui.models import ReportRequest, counter_zone, month_end, month_start, months_touched
from metrika_tui.settings import Settings


@lru_cache(maxsize=1024)
def local_today(time_zone: str, now: dt.datetime, offset: int | None = None) -> dt.date:
    """Today in the counter's own zone (its reports' dates are local); a zone this machine
    does not know is the fixed offset (minutes) the API gave with it, else UTC. (Cached: a
    plan asks it for every counter at one moment.)"""
    return now.astimezone(counter_zone(time_zone, offset)).date()


def fetch_window(
    last_fetched_day: dt.date | None, time_zone: str, settings: Settings, now: dt.datetime, *, offset: int | None = None
) -> tuple[dt.date, dt.date]:
    """The days the next sync reads, from the first of the start's month through today."""
    return _window(
        last_fetched_day, local_today(time_zone, now, offset), settings.backfill_days, settings.lookback_days
    )


@lru_cache(maxsize=4096)
def _window(last_fetched_day: dt.date | None, today: dt.date, backfill: int, lookback: int) -> tuple[dt.date, dt.date]:
    if last_fetched_day is None:
        start = today - dt.timedelta(days=backfill - 1)
    else:
        start = min(last_fetched_day, today) - dt.timedelta(days=lookback)
    return month_start(start), today


def window_requests(date1: dt.date, date2: dt.date, mode: str) -> list[ReportRequest]:
    """The report requests of a sync of [date1, date2] (date1 the first of its month)."""
    months = months_touched(date1, date2)
    if mode == "totals" and len(months) <= 2:
        return [ReportRequest(m, min(month_end(m), date2)) for m in months]
    return [ReportRequest(date1, date2), ReportRequest(date1, date2, grain="month")]


def sync_cost(last_fetched_day: dt.date | None, time_zone: str, settings: Settings, now: dt.datetime) -> int:
    """Report requests the counter's next sync makes (one page each: a page holds 10,000 days)."""
    return _cost(fetch_window(last_fetched_day, time_zone, settings, now), settings.month_users)


@lru_cache(maxsize=4096)
def _cost(window: tuple[dt.date, dt.date], mode: str) -> int:
    return len(window_requests(*window, mode))


def steady_cost(settings: Settings) -> int:
    """Requests of a refresh inside one month: what a counter costs on most days."""
    return 1 if settings.month_users == "totals" else 2
