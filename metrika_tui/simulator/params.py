"""Reading the Reporting API's query string, with the real API's limits and 400 answers."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from metrika_tui.simulator.errors import ApiError, invalid_parameter, missing_parameter

METRICS = frozenset(
    {
        "ym:s:visits",
        "ym:s:users",
        "ym:s:pageviews",
        "ym:s:bounceRate",
        "ym:s:avgVisitDurationSeconds",
        "ym:s:newUsers",
        "ym:s:pageDepth",
    }
)
#: time dimensions the simulator knows, and the grain each one groups by
DIMENSIONS = {
    "ym:s:date": "day",
    "ym:s:startOfWeek": "week",
    "ym:s:startOfMonth": "month",
    "ym:s:startOfQuarter": "quarter",
    "ym:s:startOfYear": "year",
}
GROUPS = ("day", "week", "month", "quarter", "year")
MAX_IDS, MAX_METRICS, MAX_DIMENSIONS, MAX_LIMIT = 500, 20, 10, 100_000
_DAYS_AGO = re.compile(r"^(\d+)daysAgo$")


@dataclass(frozen=True, slots=True)
class ReportQuery:
    ids: tuple[int, ...]
    metrics: tuple[str, ...]
    dimensions: tuple[str, ...]
    date1: str
    date2: str
    limit: int
    offset: int
    sort: tuple[str, ...]
    group: str


def parse_ids(params: Mapping[str, str]) -> tuple[int, ...]:
    """Counter ids of a report (`ids`, or the old `id`), checked before the quota counts them."""
    raw = params.get("ids") or params.get("id")
    if not raw:
        raise missing_parameter("ids")
    try:
        ids = tuple(int(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise invalid_parameter("ids", f"counter ids are comma-separated numbers, got {raw!r}") from None
    if not ids or len(ids) > MAX_IDS or min(ids) <= 0:
        raise invalid_parameter("ids", f"between 1 and {MAX_IDS} positive counter ids, got {raw!r}")
    return ids


def parse_report(params: Mapping[str, str], *, bytime: bool) -> ReportQuery:
    ids = parse_ids(params)
    metrics = _names(params, "metrics")
    if not metrics:
        raise missing_parameter("metrics")
    if len(metrics) > MAX_METRICS:
        raise invalid_parameter("metrics", f"at most {MAX_METRICS} metrics")
    for metric in metrics:
        if metric not in METRICS:
            raise invalid_parameter("metrics", f"unknown metric {metric!r} (the simulator knows {sorted(METRICS)})")
    dimensions = _names(params, "dimensions")
    if len(dimensions) > MAX_DIMENSIONS:
        raise invalid_parameter("dimensions", f"at most {MAX_DIMENSIONS} dimensions")
    if bytime and dimensions:
        raise invalid_parameter("dimensions", "the simulator's bytime report groups by time only (no dimensions)")
    if len(dimensions) > 1 or (dimensions and dimensions[0] not in DIMENSIONS):
        raise invalid_parameter("dimensions", f"the simulator knows one of {sorted(DIMENSIONS)}, got {dimensions}")
    limit = _number(params, "limit", 100, 1, MAX_LIMIT)
    offset = _number(params, "offset", 1, 1, None)
    sort = _names(params, "sort") or ((dimensions[0],) if dimensions else (f"-{metrics[0]}",))
    for key in sort:
        if key.lstrip("-") not in metrics and key.lstrip("-") not in dimensions:
            raise invalid_parameter("sort", f"sort by a requested metric or dimension, not {key!r}")
    group = params.get("group", "week" if bytime else "day").lower()
    if bytime and group not in GROUPS:
        raise invalid_parameter("group", f"the simulator groups by one of {list(GROUPS)}, not {group!r}")
    if params.get("filters"):
        raise invalid_parameter("filters", "the simulator does not filter reports")
    return ReportQuery(
        ids,
        metrics,
        dimensions,
        params.get("date1", "6daysAgo"),
        params.get("date2", "today"),
        limit,
        offset,
        sort,
        group,
    )


def resolve_date(text: str, today: dt.date, name: str) -> dt.date:
    """`YYYY-MM-DD`, `today`, `yesterday` or `NdaysAgo`, in the counter's own calendar."""
    if text == "today":
        return today
    if text == "yesterday":
        return today - dt.timedelta(days=1)
    ago = _DAYS_AGO.match(text)
    if ago:
        return today - dt.timedelta(days=int(ago.group(1)))
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else _bad_date(name, text)
    except ValueError:
        return _bad_date(name, text)


def _bad_date(name: str, text: str) -> dt.date:
    raise invalid_parameter(name, f"expected YYYY-MM-DD, today, yesterday or NdaysAgo, got {text!r}")


def page_number(params: Mapping[str, str], name: str, default: int, high: int | None = None) -> int:
    return _number(params, name, default, 1, high)


def _names(params: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in params.get(name, "").split(",") if part.strip())


def _number(params: Mapping[str, str], name: str, default: int, low: int, high: int | None) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_parameter(name, f"expected a whole number, got {raw!r}") from None
    if value < low or (high is not None and value > high):
        bounds = f"{low}..{high}" if high is not None else f"at least {low}"
        raise invalid_parameter(name, f"expected {bounds}, got {value}")
    return value


def check_window(date1: dt.date, date2: dt.date) -> None:
    if date1 > date2:
        raise ApiError(400, "invalid_parameter", f"Wrong parameter: date1 {date1} is after date2 {date2}", "date1")
