"""The Reporting API's answers (`/stat/v1/data` and `/stat/v1/data/bytime`) built from the world.

Rows are computed for the asked window only. Coarser-than-day figures count users over the
whole period (people who came on several days count once), like the real API does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from metrika_tui.models import DailyStat, month_end, month_start
from metrika_tui.simulator.params import DIMENSIONS, ReportQuery, check_window, resolve_date
from metrika_tui.simulator.world import World

_ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Figures:
    visits: int = 0
    users: int = 0
    pageviews: int = 0
    new_users: int = 0
    bounce_sum: float = 0.0  # bounce rate x visits, so sums stay visit-weighted
    duration_sum: float = 0.0  # average duration x visits

    def value(self, metric: str) -> float:
        v = self.visits
        if metric == "ym:s:visits":
            return float(v)
        if metric == "ym:s:users":
            return float(self.users)
        if metric == "ym:s:pageviews":
            return float(self.pageviews)
        if metric == "ym:s:newUsers":
            return float(self.new_users)
        if not v:
            return 0.0
        if metric == "ym:s:bounceRate":
            return round(self.bounce_sum / v, 6)
        if metric == "ym:s:avgVisitDurationSeconds":
            return round(self.duration_sum / v, 6)
        return round(self.pageviews / v, 6)  # ym:s:pageDepth


def period_starts(first: dt.date, last: dt.date, grain: str) -> list[tuple[dt.date, dt.date]]:
    """The calendar periods of a grain that the window touches, clipped to the window."""
    out = []
    start = first
    while start <= last:
        end = min(last, _period_end(start, grain))
        out.append((start, end))
        start = end + _ONE_DAY
    return out


def _period_end(day: dt.date, grain: str) -> dt.date:
    if grain == "day":
        return day
    if grain == "week":
        return day + dt.timedelta(days=6 - day.weekday())
    if grain == "month":
        return month_end(day)
    if grain == "quarter":
        last_month = (day.month - 1) // 3 * 3 + 3
        return _period_end(day.replace(month=last_month, day=1), "month")
    return day.replace(month=12, day=31)


def _period_label(start: dt.date, grain: str) -> dt.date:
    if grain == "week":
        return start - dt.timedelta(days=start.weekday())
    if grain == "month":
        return month_start(start)
    if grain == "quarter":
        return start.replace(month=(start.month - 1) // 3 * 3 + 1, day=1)
    if grain == "year":
        return start.replace(month=1, day=1)
    return start


def figures(
    world: World, days_by_counter: dict[int, list[DailyStat]], first: int = 0, stop: int | None = None
) -> Figures:
    """All counters' figures over days[first:stop] (users counted once per counter over them)."""
    visits = users = pageviews = new = 0
    bounce = duration = 0.0
    for cid, all_days in days_by_counter.items():
        days = all_days[first:stop]
        users += days[0].users if len(days) == 1 else world.users_of_days(cid, days)
        for d in days:
            if d.visits:
                visits += d.visits
                pageviews += d.pageviews
                new += world.new_users(cid, d)
                bounce += d.bounce_rate * d.visits
                duration += d.avg_visit_duration * d.visits
    return Figures(visits, users, pageviews, new, bounce, duration)


def _per_period(
    world: World, q: ReportQuery, date1: dt.date, date2: dt.date, grain: str, now: dt.datetime
) -> tuple[Figures, list[tuple[dt.date, dt.date, Figures]]]:
    """The whole window's figures and each period's, every day computed once."""
    days = {cid: world.days(cid, date1, date2, now) for cid in q.ids}
    whole = figures(world, days)
    periods = []
    for start, end in period_starts(date1, date2, grain):
        first, stop = (start - date1).days, (end - date1).days + 1
        periods.append((start, end, figures(world, days, first, stop)))
    return whole, periods


def _window(world: World, q: ReportQuery, now: dt.datetime) -> tuple[dt.date, dt.date]:
    today = world.local_now(q.ids[0], now).date()
    date1, date2 = resolve_date(q.date1, today, "date1"), resolve_date(q.date2, today, "date2")
    check_window(date1, date2)
    return date1, date2


def _envelope(q: ReportQuery, date1: dt.date, date2: dt.date, whole: Figures, data_lag: int, group: str) -> dict:
    return {
        "query": {
            "ids": list(q.ids),
            "dimensions": list(q.dimensions),
            "metrics": list(q.metrics),
            "sort": list(q.sort),
            "date1": date1.isoformat(),
            "date2": date2.isoformat(),
            "limit": q.limit,
            "offset": q.offset,
            "group": group,
            "auto_group_size": "1",
            "attr_name": "",
            "quantile": "50",
            "offline_window": "21",
            "attribution": "LastSign",
            "currency": "RUB",
            "adfox_event_id": "0",
        },
        "data": [],
        "total_rows": 0,
        "total_rows_rounded": False,
        "sampled": False,
        "contains_sensitive_data": False,
        "sample_share": 1.0,
        "sample_size": whole.visits,
        "sample_space": whole.visits,
        "data_lag": data_lag,
    }


def data_report(world: World, q: ReportQuery, now: dt.datetime, data_lag: int) -> dict:
    """`/stat/v1/data`: one row per period with visits, sorted, then one page of them."""
    date1, date2 = _window(world, q, now)
    grain = DIMENSIONS[q.dimensions[0]] if q.dimensions else "day"
    whole, periods = _per_period(world, q, date1, date2, grain, now)
    rows: list[tuple[str, list[float]]] = []
    if q.dimensions:
        for start, _end, f in periods:
            if f.visits:
                rows.append((_period_label(start, grain).isoformat(), [f.value(m) for m in q.metrics]))
    elif whole.visits:
        rows.append(("", [whole.value(m) for m in q.metrics]))
    _sort(rows, q)
    answer = _envelope(q, date1, date2, whole, data_lag, "Day")
    page = rows[q.offset - 1 : q.offset - 1 + q.limit]
    answer["data"] = [
        {"dimensions": [{"name": name}] if q.dimensions else [], "metrics": values} for name, values in page
    ]
    answer["total_rows"] = len(rows)
    answer["totals"] = [whole.value(m) for m in q.metrics]
    columns = list(zip(*(values for _, values in rows))) or [(0.0,)] * len(q.metrics)
    answer["min"] = [min(c) for c in columns]
    answer["max"] = [max(c) for c in columns]
    return answer


def bytime_report(world: World, q: ReportQuery, now: dt.datetime, data_lag: int) -> dict:
    """`/stat/v1/data/bytime`: one row whose metrics are a list per metric, a value per period."""
    date1, date2 = _window(world, q, now)
    whole, periods = _per_period(world, q, date1, date2, q.group, now)
    series = [[f.value(m) for _start, _end, f in periods] for m in q.metrics]
    answer = _envelope(q, date1, date2, whole, data_lag, q.group)
    has_rows = whole.visits > 0 and q.offset == 1
    answer["data"] = [{"dimensions": [], "metrics": series}] if has_rows else []
    answer["total_rows"] = 1 if whole.visits else 0
    answer["totals"] = series
    answer["min"] = series
    answer["max"] = series
    answer["time_intervals"] = [[start.isoformat(), end.isoformat()] for start, end, _f in periods]
    return answer


def _sort(rows: list[tuple[str, list[float]]], q: ReportQuery) -> None:
    for key in reversed(q.sort):
        name = key.lstrip("-")
        if name in q.dimensions:
            rows.sort(key=lambda row: row[0], reverse=key.startswith("-"))
        else:
            rows.sort(key=_metric(q.metrics.index(name)), reverse=key.startswith("-"))


def _metric(index: int) -> Callable[[tuple[str, list[float]]], float]:
    """A row's sort key: its `index`th metric."""
    return lambda row: row[1][index]
