"""Each documented error envelope lands in the right class of the taxonomy, message kept."""

from __future__ import annotations

import datetime as dt

import metrika_envelopes as E
import pytest

from metrika_tui.metrika import parse
from metrika_tui.metrika.errors import AuthError, BadAnswer, QuotaError, RequestError, TransientError

NOW = dt.datetime(2026, 3, 14, 21, 30, tzinfo=dt.UTC)


def parsed(status: int, body: bytes, **kw):
    return parse.error_from_response(status, body, now=NOW, **kw)


@pytest.mark.parametrize(
    ("status", "body", "cls", "error_type"),
    [
        (403, E.INVALID_TOKEN, AuthError, "invalid_token"),
        (401, E.UNAUTHORIZED, AuthError, "unauthorized"),
        (403, E.ACCESS_DENIED, AuthError, "access_denied"),
        (404, E.NOT_FOUND, RequestError, "not_found"),
        (400, E.INVALID_PARAMETER, RequestError, "invalid_parameter"),
        (400, E.TOO_COMPLICATED, TransientError, "query_error"),
        (503, E.BACKEND_ERROR, TransientError, "backend_error"),
        (504, E.TIMEOUT, TransientError, "timeout"),
        (429, E.QUOTA_BY_IP, QuotaError, "quota_requests_by_ip"),
        (420, E.QUOTA_PARALLEL, QuotaError, "quota_parallel_requests"),
        (429, E.QUOTA_BY_UID, QuotaError, "quota_requests_by_uid"),
    ],
)
def test_envelope_maps_to_taxonomy(status, body, cls, error_type):
    error = parsed(status, body)
    assert type(error) is cls
    assert error.status == status
    assert error.error_type == error_type
    assert error.message == parse.decode_json(body)["message"]  # the API's words, kept


def test_dead_token_and_missing_access_differ():
    assert parsed(403, E.INVALID_TOKEN).token_dead
    assert parsed(401, E.UNAUTHORIZED).token_dead
    assert not parsed(403, E.ACCESS_DENIED).token_dead


def test_short_quotas_are_short_and_carry_no_retry_time():
    for body in (E.QUOTA_BY_IP, E.QUOTA_PARALLEL):
        error = parsed(429, body)
        assert error.short and error.retry_at is None


@pytest.mark.parametrize("body", [E.QUOTA_BY_UID, E.QUOTA_BY_COUNTER])
def test_daily_quota_retries_at_next_utc_midnight(body):
    error = parsed(429, body)
    assert not error.short
    assert error.retry_at == dt.datetime(2026, 3, 15, tzinfo=dt.UTC)


def test_uid_quota_on_a_report_is_the_five_minute_budget_unless_it_says_day():
    budget = parse.error_from_response(
        429,
        E.envelope(429, "quota_requests_by_uid", "Too many report requests"),
        now=NOW,
        report_window=dt.timedelta(minutes=5),
    )
    assert budget.retry_at == NOW + dt.timedelta(minutes=5)
    daily = parsed(429, E.QUOTA_BY_UID, report_window=dt.timedelta(minutes=5))
    assert daily.retry_at == dt.datetime(2026, 3, 15, tzinfo=dt.UTC)


def test_retry_after_header_is_honoured_in_seconds_and_as_a_date():
    error = parsed(429, E.QUOTA_BY_UID, retry_after="120")
    assert error.retry_after == 120 and error.retry_at == NOW + dt.timedelta(seconds=120)
    dated = parsed(429, E.QUOTA_BY_IP, retry_after="Sat, 14 Mar 2026 21:30:05 GMT")
    assert dated.retry_after == 5


@pytest.mark.parametrize("body", [E.HTML_500, b"", b"{not json"])
def test_non_json_server_errors_are_transient(body):
    error = parsed(500, body)
    assert isinstance(error, TransientError)
    assert "HTTP 500" in str(error)


def test_non_json_quota_and_auth_answers_keep_their_class():
    assert isinstance(parsed(429, b"Too Many Requests"), QuotaError)
    assert parsed(401, b"").token_dead
    assert isinstance(parsed(403, b"<html>forbidden</html>"), AuthError)
    assert isinstance(parsed(418, b""), RequestError)


def test_counter_id_may_be_a_string_and_site_may_sit_in_site2():
    counter = parse.parse_counter(
        {
            "id": "880000",
            "name": "Shop",
            "site2": {"site": "shop.example", "domain": "shop.example"},
            "time_zone_name": "Asia/Yekaterinburg",
            "create_time": "2022-03-25T15:59:52+03:00",
        }
    )
    assert counter.id == 880000 and counter.site == "shop.example"
    assert counter.time_zone == "Asia/Yekaterinburg"
    with pytest.raises(BadAnswer, match="not a whole number"):  # asking again would get the same
        parse.parse_counter({"id": "eighty"})


def test_daily_rows_accept_null_and_bare_integer_metrics_in_the_answers_order():
    page = {
        "query": {
            "metrics": [
                "ym:s:users",
                "ym:s:visits",
                "ym:s:pageviews",
                "ym:s:avgVisitDurationSeconds",
                "ym:s:bounceRate",
            ]
        },
        "data": [
            {"dimensions": [{"name": "2026-03-01"}], "metrics": [7, 10, 31, 95.5, 12.5]},
            {"dimensions": [{"name": "2026-03-02", "id": "x"}], "metrics": [None, 3.0, None, None, 0]},
        ],
    }
    first, second = parse.parse_daily_rows(page)
    assert (first.date, first.visits, first.users, first.pageviews) == (dt.date(2026, 3, 1), 10, 7, 31)
    assert (first.bounce_rate, first.avg_visit_duration) == (12.5, 95.5)
    assert (second.visits, second.users, second.pageviews) == (3, 0, 0)


def test_month_rows_are_first_days_of_months():
    page = {"data": [{"dimensions": [{"name": "2026-02-01"}], "metrics": [1234.0]}]}
    [month] = parse.parse_month_rows(page)
    assert month.month == dt.date(2026, 2, 1) and month.users == 1234
