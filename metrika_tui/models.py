"""Plain data shared by every layer, the simulator included.

These are the nouns of the Metrika API as this project uses them: no I/O, no behaviour
beyond small derived values. The client returns them, the store persists them, the
simulator produces them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: The metrics a daily sync asks for, in this order (the report answer keeps the order).
DAILY_METRICS: tuple[str, ...] = (
    "ym:s:visits",
    "ym:s:users",
    "ym:s:pageviews",
    "ym:s:bounceRate",
    "ym:s:avgVisitDurationSeconds",
)


@dataclass(frozen=True, slots=True)
class Counter:
    """A Metrika counter (one site) as the Management API describes it."""

    id: int
    name: str
    site: str
    time_zone: str = "Europe/Moscow"
    status: str = "Active"
    owner_login: str = ""
    permission: str = "own"
    create_time: str = ""
    time_zone_offset: int | None = None  # minutes east of UTC, as the API says (a fallback zone)


@dataclass(frozen=True, slots=True)
class DailyStat:
    """One counter's figures for one day, in the counter's own time zone."""

    date: dt.date
    visits: int
    users: int
    pageviews: int
    bounce_rate: float  # percent of visits, 0..100
    avg_visit_duration: float  # seconds per visit


@dataclass(frozen=True, slots=True)
class MonthlyStat:
    """A month's figures. `users` comes from the API at month grain: never a sum of days."""

    month: dt.date  # the first day of the month
    visits: int
    users: int
    pageviews: int
    bounce_rate: float  # visit-weighted mean of the days
    avg_visit_duration: float  # visit-weighted mean of the days
    days: int = 0  # how many daily rows went into it


@dataclass(frozen=True, slots=True)
class Report:
    """A report read through all its pages: parsed rows plus the raw answers as sent.

    `totals` are the API's, by metric: computed over the whole requested range, not summed
    from the rows, so the users total counts each user of the range once."""

    rows: tuple[Any, ...]
    raw_pages: tuple[dict, ...] = field(default=(), repr=False)
    sampled: bool = False  # estimated from a sample (`sampled: true` or a share under 1)
    total_rows: int = 0
    sample_share: float = 1.0  # the smallest share of visits any page was computed from
    totals: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """One report request of a sync: the daily metrics by day over [date1, date2] (grain
    "day"), or the users of each month the range touches (grain "month")."""

    date1: dt.date
    date2: dt.date
    grain: str = "day"


# -- month arithmetic: the one place (window, parsing, store, simulator all use these) ------------
def month_start(day: dt.date) -> dt.date:
    """The first day of `day`'s month."""
    return day.replace(day=1)


def known_zone(name: str) -> ZoneInfo | None:
    """The IANA zone of that name, or None when this machine does not know it (or it is no name)."""
    return _zone(name) if name and len(name) < 100 else None


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # unknown, a path, a NUL byte…
        return None


def counter_zone(name: str, offset_minutes: int | None) -> dt.tzinfo:
    """The zone a counter's days are counted in: its named zone, or where this machine does not
    know that name, the fixed offset the API gave with it (UTC when there is none either)."""
    zone = known_zone(name)
    if zone is not None:
        return zone
    return dt.timezone(dt.timedelta(minutes=offset_minutes or 0))


def offset_text(offset_minutes: int | None) -> str:
    """`+03:00`"""
    minutes = offset_minutes or 0
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def next_month(day: dt.date) -> dt.date:
    """The first day of the month after `day`'s."""
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def month_end(day: dt.date) -> dt.date:
    """The last day of `day`'s month."""
    return next_month(day) - dt.timedelta(days=1)


def months_touched(date1: dt.date, date2: dt.date) -> list[dt.date]:
    """The first day of every month from date1's through date2's (none when date2 is earlier)."""
    months, month = [], month_start(date1)
    while month <= date2:
        months.append(month)
        month = next_month(month)
    return months


@dataclass(frozen=True, slots=True)
class MonthUsers:
    """Users of one month as the API counts them at month grain (not additive over days)."""

    month: dt.date  # the first day of the month
    users: int
