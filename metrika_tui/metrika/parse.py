"""Turn Metrika's answers into typed results, and its error envelopes into the taxonomy.

Everything here is pure: bytes and status codes in, models or `MetrikaError`s out, so
every documented shape can be tested without a network.

Answers are checked before anything is kept (`BadAnswer` says what was wrong): figures are
finite, not negative and believable; rows lie in the asked days, once each; paging ends at the
pages the first answer's total implies, and a page that is empty or repeats the one before
it is a bad answer, not another page to ask for.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from metrika_tui.metrika.errors import (
    AuthError,
    BadAnswer,
    MetrikaError,
    QuotaError,
    RequestError,
    TransientError,
)
from metrika_tui.models import DAILY_METRICS, Counter, DailyStat, MonthUsers, month_start, months_touched

#: the most one day's count (visits, users, pageviews) can be: the biggest sites have tens of
#: millions of visits a day; past this an answer is absurd (and 1e30 overflows SQLite)
MAX_DAILY_COUNT = 10**10
#: a visit's average length, at most a day
MAX_VISIT_SECONDS = 86_400.0
#: pages read at most for one report, and for the counters list (a million counters at 1,000
#: a page), whatever an answer's total claims
MAX_REPORT_PAGES = 100
MAX_COUNTER_PAGES = 1_000
#: counter names and sites are cut to this many characters when read (Metrika's own are short)
MAX_NAME_CHARS = 1_000
#: a time zone offset in minutes lies within UTC-12 .. UTC+14
OFFSET_MINUTES = range(-12 * 60, 14 * 60 + 1)

#: quotas that reset at 00:00 UTC (the daily ones)
DAILY_QUOTAS = frozenset({"quota_requests_by_uid", "quota_requests_by_counter_id"})
QUOTA_STATUSES = frozenset({420, 429})
TOO_COMPLICATED = "query is too complicated"
TRANSIENT_TYPES = frozenset({"backend_error", "timeout"})
AUTH_TYPES = frozenset({"invalid_token", "unauthorized", "access_denied"})


class MalformedAnswer(TransientError):
    """A 2xx answer that is not the JSON shape the API documents (a proxy page, a cut body)."""


def next_utc_midnight(now: dt.datetime) -> dt.datetime:
    """When the daily quotas reset."""
    today = now.astimezone(dt.UTC).date()
    return dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def decode_json(body: bytes) -> Any:
    """The body as JSON, or None when it is not JSON (HTML error pages, empty bodies)."""
    try:
        return json.loads(body) if body.strip() else None
    except (ValueError, UnicodeDecodeError):
        return None


def _envelope(payload: Any) -> tuple[str | None, str | None]:
    """(first error_type, the API's message) from the documented error envelope."""
    if not isinstance(payload, Mapping):
        return None, None
    errors = payload.get("errors")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], Mapping) else {}
    error_type = first.get("error_type")
    message = payload.get("message") or first.get("message")
    return (str(error_type) if error_type else None), (str(message) if message else None)


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


def error_from_response(
    status: int,
    body: bytes,
    *,
    now: dt.datetime,
    retry_after: str | None = None,
    report_window: dt.timedelta | None = None,
) -> MetrikaError:
    """The taxonomy's error for a non-2xx answer. Never includes anything but the API's words.

    `report_window` is set for report requests: a long quota on one of them is taken to be
    the 200-per-5-minutes budget (its error_type is undocumented and shared with the daily
    quota), so the retry time is the window's end, not midnight, unless the message says "day".
    """
    payload = decode_json(body)
    error_type, api_message = _envelope(payload)
    message = api_message or f"HTTP {status} with {'a non-JSON' if payload is None else 'an unexpected'} body"
    if status in QUOTA_STATUSES or (error_type or "").startswith("quota_"):
        return _quota_error(status, error_type, message, now, retry_after, report_window)
    if status == 401 or error_type in AUTH_TYPES or status == 403:
        return AuthError(message, status=status, error_type=error_type or _auth_default(status))
    if TOO_COMPLICATED in message.lower():
        return TransientError(message, status=status, error_type=error_type)
    if status >= 500 or error_type in TRANSIENT_TYPES:
        return TransientError(message, status=status, error_type=error_type)
    return RequestError(message, status=status, error_type=error_type)


def _auth_default(status: int) -> str | None:
    return "unauthorized" if status == 401 else None


def _quota_error(
    status: int,
    error_type: str | None,
    message: str,
    now: dt.datetime,
    retry_after: str | None,
    report_window: dt.timedelta | None,
) -> QuotaError:
    """When the quota frees, where the answer says: a Retry-After header; a daily quota at
    00:00 UTC (by the login, or by the counter); on a report request a `quota_requests_by_uid`
    whose message does not speak of a day, the report window (a guess: the 5-minute budget's
    error_type is undocumented). Anything else has no known reset."""
    wait = parse_retry_after(retry_after, now)
    if wait is not None:
        return QuotaError(
            message, status=status, error_type=error_type, retry_after=wait, retry_at=now + dt.timedelta(seconds=wait)
        )
    says_day = "day" in message.lower() or "daily" in message.lower()
    if error_type == "quota_requests_by_uid" and report_window is not None and not says_day:
        return QuotaError(
            message, status=status, error_type=error_type, retry_at=now + report_window, reset_known=False
        )
    if error_type in DAILY_QUOTAS:
        return QuotaError(
            message,
            status=status,
            error_type=error_type,
            retry_at=next_utc_midnight(now),
            daily=error_type == "quota_requests_by_uid",
        )
    return QuotaError(message, status=status, error_type=error_type)


def expect_mapping(payload: Any, *keys: str) -> Mapping[str, Any]:
    """The answer as a mapping holding `keys`, or MalformedAnswer."""
    if not isinstance(payload, Mapping) or any(key not in payload for key in keys):
        wanted = ", ".join(keys)
        raise MalformedAnswer(f"the answer is not the expected JSON object (wanted: {wanted})")
    return payload


def parse_counter(raw: Any) -> Counter:
    """A counter from the Management API; `id` may be an int or a numeric string. Its texts
    are kept as sent (cut to MAX_NAME_CHARS): they are shown only through `text.visible`."""
    item = expect_mapping(raw, "id")
    counter_id = whole_number(item["id"], "a counter id")
    if not 0 < counter_id < 2**63:
        raise BadAnswer(f"a counter id is out of range: {counter_id}")
    site2 = item.get("site2")
    site = item.get("site") or (site2.get("site") if isinstance(site2, Mapping) else "") or ""
    return Counter(
        id=counter_id,
        name=_text(item.get("name")),
        site=_text(site),
        time_zone=_text(item.get("time_zone_name")) or "Europe/Moscow",
        status=_text(item.get("status")) or "Active",
        owner_login=_text(item.get("owner_login")),
        permission=_text(item.get("permission")) or "own",
        create_time=_text(item.get("create_time")),
        time_zone_offset=_offset(item.get("time_zone_offset")),
    )


def _text(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= MAX_NAME_CHARS else text[: MAX_NAME_CHARS - 1] + "…"


def _offset(value: Any) -> int | None:
    """`time_zone_offset` in minutes, or None when missing or impossible."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(value) if int(value) in OFFSET_MINUTES else None


def whole_number(value: Any, name: str) -> int:
    """A count or an id from an answer: a whole number (or its string), not negative."""
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise BadAnswer(f"{name} is not a whole number: {_short(value)}") from None
    if number < 0:
        raise BadAnswer(f"{name} is negative: {number}")
    return number


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _number(value: Any) -> float:
    """A metric value: null means no data (0); ints may come without `.0`; never NaN or infinite."""
    if value is None:
        return 0.0
    if isinstance(value, bool):
        raise BadAnswer(f"a metric is not a number: {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise BadAnswer(f"a metric is not a number: {_short(value)}") from None
    if not math.isfinite(number):
        raise BadAnswer(f"a metric is not a finite number: {value!r}")
    return number


def _count(value: float, name: str, day: dt.date) -> int:
    """A day's count: not negative, not absurd."""
    if value < 0:
        raise BadAnswer(f"{day}: {name} is negative ({value:g})")
    if value > MAX_DAILY_COUNT:
        raise BadAnswer(f"{day}: {name} of {value:g} is past belief (at most {MAX_DAILY_COUNT:g} a day)")
    return round(value)


def _within(value: float, name: str, day: dt.date, highest: float) -> float:
    if not 0 <= value <= highest:
        raise BadAnswer(f"{day}: {name} of {value:g} is outside 0..{highest:g}")
    return value


def _first_dimension(row: Mapping[str, Any]) -> str:
    dims = row.get("dimensions")
    if not isinstance(dims, list) or not dims or not isinstance(dims[0], Mapping):
        raise MalformedAnswer("a report row has no dimension")
    return str(dims[0].get("name"))


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise MalformedAnswer(f"a report row's date is not a date: {text!r}") from None


def _metric_order(page: Mapping[str, Any], wanted: tuple[str, ...]) -> list[int]:
    """Where each wanted metric sits in the rows (the answer's `query.metrics`, else as asked)."""
    asked = (page.get("query") or {}).get("metrics") or list(wanted)
    try:
        return [list(asked).index(name) for name in wanted]
    except ValueError:
        raise MalformedAnswer("the report lacks a metric that was asked for") from None


def parse_daily_rows(page: Mapping[str, Any]) -> list[DailyStat]:
    """DailyStat rows from one page of `/stat/v1/data` by `ym:s:date` with DAILY_METRICS."""
    order = _metric_order(page, DAILY_METRICS)
    stats = []
    for row in page["data"]:
        values = row.get("metrics") if isinstance(row, Mapping) else None
        if not isinstance(values, list) or len(values) <= max(order):
            raise MalformedAnswer("a report row has fewer metrics than asked for")
        visits, users, pageviews, bounce, duration = (_number(values[i]) for i in order)
        day = _date(_first_dimension(row))
        stats.append(
            DailyStat(
                date=day,
                visits=_count(visits, "visits", day),
                users=_count(users, "users", day),
                pageviews=_count(pageviews, "pageviews", day),
                bounce_rate=_within(bounce, "bounce rate", day, 100.0),
                avg_visit_duration=_within(duration, "average visit duration", day, MAX_VISIT_SECONDS),
            )
        )
    return stats


def parse_totals(page: Mapping[str, Any], metrics: list[str]) -> dict[str, float]:
    """The answer's `totals` by metric name (in the order of `query.metrics`, else as asked);
    empty when the answer has none (a range without visits may omit them)."""
    totals = page.get("totals")
    if totals is None:
        return {}
    if not isinstance(totals, list):
        raise MalformedAnswer("the report's totals are not a list")
    order = _metric_order(page, tuple(metrics))
    if len(totals) <= max(order, default=-1):
        raise MalformedAnswer("the report's totals have fewer metrics than asked for")
    values = {name: _number(totals[i]) for name, i in zip(metrics, order)}
    negative = [name for name, value in values.items() if value < 0]
    if negative:
        raise BadAnswer(f"the report's total of {negative[0]} is negative ({values[negative[0]]:g})")
    return values


def count_of(value: float, what: str) -> int:
    """A count from totals: whole, not absurd (a month of days at most MAX_DAILY_COUNT each)."""
    if not 0 <= value <= 31 * MAX_DAILY_COUNT:
        raise BadAnswer(f"{what} of {value:g} is past belief")
    return round(value)


def parse_month_rows(page: Mapping[str, Any]) -> list[MonthUsers]:
    """MonthUsers from `/stat/v1/data` by `ym:s:startOfMonth` with `ym:s:users`."""
    months = []
    for row in page["data"]:
        values = row.get("metrics") if isinstance(row, Mapping) else None
        if not isinstance(values, list) or not values:
            raise MalformedAnswer("a report row has no metrics")
        day = _date(_first_dimension(row))
        months.append(MonthUsers(month=month_start(day), users=_count(_number(values[0]), "users", day)))
    return months


# -- checks across rows and pages ---------------------------------------------------------------


def check_days(rows: Sequence[DailyStat], date1: dt.date, date2: dt.date) -> None:
    """Every row a day of the asked window, each day once."""
    _once_each_within([row.date for row in rows], date1, date2, str, f"the asked days {date1}..{date2}")


def check_months(rows: Sequence[MonthUsers], date1: dt.date, date2: dt.date) -> None:
    """Every row a month the window touches, each month once."""
    first, last = month_start(date1), month_start(date2)
    _once_each_within(
        [row.month for row in rows],
        first,
        last,
        lambda m: f"the month {m:%Y-%m}",
        f"the asked months {first:%Y-%m}..{last:%Y-%m}",
    )


def _once_each_within(
    keys: Sequence[dt.date], first: dt.date, last: dt.date, name: Callable[[dt.date], str], window: str
) -> None:
    seen: set[dt.date] = set()
    for key in keys:
        if not first <= key <= last:
            raise BadAnswer(f"a row for {name(key)}, outside {window}")
        if key in seen:
            raise BadAnswer(f"{name(key)} comes twice")
        seen.add(key)


def days_in(date1: dt.date, date2: dt.date) -> int:
    return max(0, (date2 - date1).days + 1)


def months_in(date1: dt.date, date2: dt.date) -> int:
    return len(months_touched(date1, date2))


def pages_needed(total: int, page_size: int, *, most_rows: int, most_pages: int, what: str) -> int:
    """The pages the first answer's total implies (at least one), or a bad answer when that
    total is more than can exist (`most_rows`: a window of N days has at most N daily rows)
    or would take more than `most_pages` pages."""
    if total > most_rows:
        raise BadAnswer(f"{what}: the answer claims {total} rows, and at most {most_rows} can exist")
    pages = max(1, -(-total // page_size))
    if pages > most_pages:
        raise BadAnswer(f"{what}: the answer claims {total} rows, {pages} pages (at most {most_pages} are read)")
    return pages


def check_page(items: Sequence[Any], previous: Sequence[Any] | None, *, offset: int, total: int, what: str) -> None:
    """A page that is empty while the total says rows are due, or that repeats the page before
    it, is a bad answer: asking on would never end."""
    if not items and total > 0:
        raise BadAnswer(f"{what}: the page at offset {offset} is empty, though the answer claims {total} rows")
    if previous is not None and items and list(items) == list(previous):
        raise BadAnswer(f"{what}: the page at offset {offset} repeats the page before it")


def sampling(page: Mapping[str, Any]) -> tuple[bool, float]:
    """(sampled, share): whether the figures were estimated from a sample (`sampled: true` or
    a `sample_share` under 1), and the share of visits they came from (1.0 when exact)."""
    raw = page.get("sample_share", 1.0)
    share = _number(raw) if raw is not None else 1.0
    if not 0 < share <= 1:
        raise BadAnswer(f"sample_share is not a share in (0, 1]: {_short(raw)}")
    flag = page.get("sampled")
    if flag not in (None, True, False, 0, 1):
        raise BadAnswer(f"sampled is not true or false: {_short(flag)}")
    return bool(flag) or share < 1, share
