"""The client against exact HTTP answers (respx): requests it sends, paging, errors, retries."""

from __future__ import annotations

import datetime as dt
import json
import logging

import httpx
import metrika_envelopes as E
import pytest
import respx

from metrika_tui.clock import ManualClock
from metrika_tui.metrika import (
    AuthError,
    MetrikaClient,
    QuotaError,
    RequestError,
    RetryPolicy,
    TransientError,
)
from metrika_tui.models import DAILY_METRICS, DailyStat, MonthUsers, ReportRequest
from metrika_tui.tokens import Token

BASE = "https://metrika.test"
SECRET = "y0_AgAAAAsecretsecretsecret42"
FAST_RETRY = RetryPolicy(attempts=3, initial_wait=0.001, max_wait=0.005, total=2.0)


@pytest.fixture
def token() -> Token:
    return Token(SECRET)


@pytest.fixture
async def client():
    async with MetrikaClient(BASE, retry=FAST_RETRY, max_rps=1000, report_page_size=3, counters_page_size=2) as c:
        yield c


@pytest.fixture
def api():
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield mock


def counter_json(counter_id: int | str) -> dict:
    return {
        "id": counter_id,
        "status": "Active",
        "owner_login": "dev",
        "name": f"Site {counter_id}",
        "site": f"s{counter_id}.example",
        "time_zone_name": "Europe/Moscow",
        "permission": "view",
        "create_time": "2022-03-25T15:59:52+03:00",
        "favorite": 0,
    }


def report_page(days: list[dt.date], offset: int, limit: int, total: int) -> dict:
    chosen = days[offset - 1 : offset - 1 + limit]
    return {
        "query": {
            "ids": [42],
            "dimensions": ["ym:s:date"],
            "metrics": list(DAILY_METRICS),
            "sort": ["ym:s:date"],
            "limit": limit,
            "offset": offset,
        },
        "data": [
            {"dimensions": [{"name": d.isoformat()}], "metrics": [10 + i, 5, 30.0, 12.5, 61.0]}
            for i, d in enumerate(chosen, start=offset)
        ],
        "total_rows": total,
        "sampled": False,
        "sample_share": 1.0,
        "totals": [0, 0, 0, 0, 0],
    }


async def test_counters_are_read_page_by_page_with_the_one_based_offset(client, api, token):
    ids = [101, "102", 103, 104, 105]
    seen = []

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == f"OAuth {SECRET}"
        offset, per_page = int(request.url.params["offset"]), int(request.url.params["per_page"])
        seen.append(offset)
        page = ids[offset - 1 : offset - 1 + per_page]
        return httpx.Response(200, json={"rows": len(ids), "counters": [counter_json(i) for i in page]})

    api.get("/management/v1/counters").mock(side_effect=answer)
    counters = await client.list_counters(token)
    assert [c.id for c in counters] == [101, 102, 103, 104, 105]
    assert seen == [1, 3, 5]
    assert counters[1].site == "s102.example" and counters[1].time_zone == "Europe/Moscow"


async def test_one_counter(client, api, token):
    api.get("/management/v1/counter/77").respond(200, json={"counter": counter_json("77")})
    counter = await client.get_counter(token, 77)
    assert counter.id == 77 and counter.name == "Site 77"


async def test_daily_report_pages_until_total_rows_and_keeps_raw_pages(client, api, token):
    days = [dt.date(2026, 3, 1) + dt.timedelta(days=i) for i in range(8)]
    params_seen = []

    def answer(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        params_seen.append(params)
        return httpx.Response(200, json=report_page(days, int(params["offset"]), int(params["limit"]), 8))

    api.get("/stat/v1/data").mock(side_effect=answer)
    (report,) = await client.read_window(token, 42, [ReportRequest(days[0], days[-1])])
    assert [row.date for row in report.rows] == days
    assert all(isinstance(row, DailyStat) for row in report.rows)
    assert [row.visits for row in report.rows] == list(range(11, 19))
    assert report.total_rows == 8 and len(report.raw_pages) == 3
    assert report.raw_pages[2]["data"][0]["dimensions"][0]["name"] == "2026-03-07"
    assert [p["offset"] for p in params_seen] == ["1", "4", "7"]
    first = params_seen[0]
    assert first["ids"] == "42" and first["dimensions"] == "ym:s:date"
    assert first["metrics"] == ",".join(DAILY_METRICS)
    assert (first["sort"], first["accuracy"]) == ("ym:s:date", "full")
    assert (first["date1"], first["date2"]) == ("2026-03-01", "2026-03-08")


async def test_monthly_users_asks_for_whole_months_at_month_grain(api, token):
    route = api.get("/stat/v1/data").respond(
        200,
        json={
            "query": {"metrics": ["ym:s:users"]},
            "total_rows": 2,
            "data": [
                {"dimensions": [{"name": "2026-01-01"}], "metrics": [900]},
                {"dimensions": [{"name": "2026-02-01"}], "metrics": [800.0]},
            ],
        },
    )
    clock = ManualClock(dt.datetime(2026, 5, 1, tzinfo=dt.UTC))
    async with MetrikaClient(BASE, retry=FAST_RETRY, clock=clock) as client:
        month = ReportRequest(dt.date(2026, 1, 20), dt.date(2026, 2, 3), grain="month")
        (report,) = await client.read_window(token, 42, [month])
    assert report.rows == (MonthUsers(dt.date(2026, 1, 1), 900), MonthUsers(dt.date(2026, 2, 1), 800))
    params = route.calls.last.request.url.params
    assert params["dimensions"] == "ym:s:startOfMonth" and params["metrics"] == "ym:s:users"
    assert (params["date1"], params["date2"]) == ("2026-01-01", "2026-02-28")


@pytest.mark.parametrize(
    ("status", "body", "cls", "dead"),
    [
        (403, E.INVALID_TOKEN, AuthError, True),
        (401, E.UNAUTHORIZED, AuthError, True),
        (403, E.ACCESS_DENIED, AuthError, False),
        (400, E.INVALID_PARAMETER, RequestError, None),
        (404, E.NOT_FOUND, RequestError, None),
    ],
)
async def test_errors_that_are_not_retried(client, api, token, status, body, cls, dead):
    route = api.get("/management/v1/counter/1").respond(status, content=body)
    with pytest.raises(cls) as caught:
        await client.get_counter(token, 1)
    assert route.call_count == 1
    assert caught.value.message == json.loads(body)["message"]
    if dead is not None:
        assert caught.value.token_dead is dead


@pytest.mark.parametrize(
    "first",
    [
        httpx.Response(503, content=E.BACKEND_ERROR),
        httpx.Response(504, content=E.TIMEOUT),
        httpx.Response(500, content=E.HTML_500, headers={"Content-Type": "text/html"}),
        httpx.Response(200, content=b'{"counter": {"id": 1, "na'),  # cut short
        httpx.Response(400, content=E.TOO_COMPLICATED),
        httpx.Response(429, content=E.QUOTA_BY_IP),
        httpx.Response(420, content=E.QUOTA_PARALLEL),
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("slow"),
    ],
)
async def test_transient_errors_and_short_quotas_are_retried(client, api, token, first):
    route = api.get("/management/v1/counter/1")
    route.side_effect = [first, httpx.Response(200, json={"counter": counter_json(1)})]
    counter = await client.get_counter(token, 1)
    assert counter.id == 1 and route.call_count == 2
    assert client.stats().retries == 1


async def test_retries_give_up_after_the_policy_and_raise_the_last_error(client, api, token):
    route = api.get("/management/v1/counter/1").respond(503, content=E.BACKEND_ERROR)
    with pytest.raises(TransientError) as caught:
        await client.get_counter(token, 1)
    assert route.call_count == FAST_RETRY.attempts
    assert caught.value.error_type == "backend_error"


@pytest.mark.parametrize("body", [E.QUOTA_BY_UID, E.QUOTA_BY_COUNTER])
async def test_daily_quota_is_not_retried_and_says_when_it_resets(api, token, body):
    route = api.get("/management/v1/counter/1").respond(429, content=body)
    clock = ManualClock(dt.datetime(2026, 3, 14, 21, 30, tzinfo=dt.UTC))
    async with MetrikaClient(BASE, retry=FAST_RETRY, clock=clock) as client:
        with pytest.raises(QuotaError) as caught:
            await client.get_counter(token, 1)
        assert client.stats().quota_errors == 1
    assert route.call_count == 1
    assert caught.value.retry_at == dt.datetime(2026, 3, 15, tzinfo=dt.UTC)


async def test_retry_after_on_a_short_quota_is_waited_for(client, api, token):
    route = api.get("/management/v1/counter/1")
    route.side_effect = [
        httpx.Response(429, content=E.QUOTA_BY_IP, headers={"Retry-After": "0.05"}),
        httpx.Response(200, json={"counter": counter_json(1)}),
    ]
    waits = []
    client._on_retry = lambda exc, attempt, wait: waits.append(wait)
    await client.get_counter(token, 1)
    assert waits and waits[0] >= 0.05


async def test_the_token_never_shows_in_logs_errors_or_reprs(client, api, token, caplog):
    caplog.set_level(logging.DEBUG)
    api.get("/management/v1/counter/1").respond(403, content=E.INVALID_TOKEN)
    api.get("/management/v1/counter/2").respond(503, content=E.BACKEND_ERROR)
    api.get("/management/v1/counter/3").mock(side_effect=httpx.ConnectError("refused"))
    errors = []
    for counter_id in (1, 2, 3):
        with pytest.raises(Exception) as caught:
            await client.get_counter(token, counter_id)
        errors.append(caught.value)
    stats = client.stats()
    texts = [caplog.text, repr(client), repr(stats), str(stats.report_headroom)]
    texts += [str(e) for e in errors] + [repr(e) for e in errors] + [str(e.args) for e in errors]
    assert caplog.records, "the client should have logged its requests and retries"
    for text in texts:
        assert SECRET not in text
        assert SECRET[4:-4] not in text


async def test_a_quota_answer_naming_no_quota_is_retried_as_a_short_one(client, api, token):
    route = api.get("/management/v1/counter/1")
    route.side_effect = [
        httpx.Response(429, content=b"Too Many Requests"),
        httpx.Response(200, json={"counter": counter_json(1)}),
    ]
    assert (await client.get_counter(token, 1)).id == 1
    assert client.stats().quota_by_type == {"unknown": 1}
