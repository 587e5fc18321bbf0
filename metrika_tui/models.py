"""Plain data shared by every layer, the simulator included.

These are the nouns of the Metrika API as this project uses them: no I/O, no behaviour
beyond small derived values. The client returns them, the store persists them, the
simulator produces them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

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
    sampled: bool = False
    total_rows: int = 0
    totals: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """One report request of a sync: the daily metrics by day over [date1, date2] (grain
    "day"), or the users of each month the range touches (grain "month")."""

    date1: dt.date
    date2: dt.date
    grain: str = "day"


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    """The first day of the month after `day`'s."""
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def month_end(day: dt.date) -> dt.date:
    """The last day of `day`'s month."""
    return next_month(day) - dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class MonthUsers:
    """Users of one month as the API counts them at month grain (not additive over days)."""

    month: dt.date  # the first day of the month
    users: int
