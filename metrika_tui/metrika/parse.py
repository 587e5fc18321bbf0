"""Turn Metrika's answers into typed results, and its error envelopes into the taxonomy.

Everything here is pure: bytes and status codes in, models or `MetrikaError`s out, so
every documented shape can be tested without a network.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from metrika_tui.metrika.errors import (
    AuthError,
    MetrikaError,
    QuotaError,
    RequestError,
    TransientError,
)
from metrika_tui.models import DAILY_METRICS, Counter, DailyStat, MonthUsers

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
        return QuotaError(message, status=status, error_type=error_type, retry_after=wait,
                          retry_at=now + dt.timedelta(seconds=wait))  # fmt: skip
    says_day = "day" in message.lower() or "daily" in message.lower()
    if error_type == "quota_requests_by_uid" and report_window is not None and not says_day:
        return QuotaError(message, status=status, error_type=error_type, retry_at=now + report_window,
                          reset_known=False)  # fmt: skip
    if error_type in DAILY_QUOTAS:
        return QuotaError(message, status=status, error_type=error_type, retry_at=next_utc_midnight(now),
                          daily=error_type == "quota_requests_by_uid")  # fmt: skip
    return QuotaError(message, status=status, error_type=error_type)


def expect_mapping(payload: Any, *keys: str) -> Mapping[str, Any]:
    """The answer as a mapping holding `keys`, or MalformedAnswer."""
    if not isinstance(payload, Mapping) or any(key not in payload for key in keys):
        wanted = ", ".join(keys)
        raise MalformedAnswer(f"the answer is not the expected JSON object (wanted: {wanted})")
    return payload


def parse_counter(raw: Any) -> Counter:
    """A counter from the Management API; `id` may be an int or a numeric string."""
    item = expect_mapping(raw, "id")
    try:
        counter_id = int(item["id"])
    except (TypeError, ValueError):
        raise MalformedAnswer(f"a counter id is not a number: {item['id']!r}") from None
    site = item.get("site") or (item.get("site2") or {}).get("site") or ""
    return Counter(
        id=counter_id,
        name=str(item.get("name") or ""),
        site=str(site),
        time_zone=str(item.get("time_zone_name") or "Europe/Moscow"),
        status=str(item.get("status") or "Active"),
        owner_login=str(item.get("owner_login") or ""),
        permission=str(item.get("permission") or "own"),
        create_time=str(item.get("create_time") or ""),
    )


def _number(value: Any) -> float:
    """A metric value: null means no data (0); ints may come without `.0`."""
    if value is None:
        return 0.0
    try:
        return float(value)
    except (TypeError, ValueError):
        raise MalformedAnswer(f"a metric is not a number: {value!r}") from None


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
        stats.append(
            DailyStat(
                date=_date(_first_dimension(row)),
                visits=round(visits),
                users=round(users),
                pageviews=round(pageviews),
                bounce_rate=bounce,
                avg_visit_duration=duration,
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
    return {name: _number(totals[i]) for name, i in zip(metrics, order)}


def parse_month_rows(page: Mapping[str, Any]) -> list[MonthUsers]:
    """MonthUsers from `/stat/v1/data` by `ym:s:startOfMonth` with `ym:s:users`."""
    months = []
    for row in page["data"]:
        values = row.get("metrics") if isinstance(row, Mapping) else None
        if not isinstance(values, list) or not values:
            raise MalformedAnswer("a report row has no metrics")
        day = _date(_first_dimension(row))
        months.append(MonthUsers(month=day.replace(day=1), users=round(_number(values[0]))))
    return months
