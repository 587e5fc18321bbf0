"""The API's answers: paging, report figures that match the world, the real shapes."""

from __future__ import annotations

import datetime as dt

import pytest

from metrika_tui.models import DAILY_METRICS

from .helpers import ALPHA, BETA, NOW, auth, reference


def _same_shape(reference_value, value, where: str = "$") -> None:
    """Every key of the reference is there with a value of the same JSON type (recursively)."""
    if isinstance(reference_value, dict):
        assert isinstance(value, dict), where
        for key, inner in reference_value.items():
            assert key in value, f"{where}.{key} missing"
            _same_shape(inner, value[key], f"{where}.{key}")
    elif isinstance(reference_value, list):
        assert isinstance(value, list), where
        if reference_value and value:
            _same_shape(reference_value[0], value[0], f"{where}[0]")
    elif isinstance(reference_value, bool):
        assert isinstance(value, bool), where
    elif isinstance(reference_value, (int, float)):
        assert isinstance(value, (int, float)) and not isinstance(value, bool), where
    else:
        assert type(value) is type(reference_value), where


async def test_counters_match_the_world_and_the_reference_shape(client, world):
    r = await client.get("/management/v1/counters", headers=auth(ALPHA))
    assert r.status_code == 200
    body = r.json()
    _same_shape(reference("counters_page.json"), body)
    assert body["rows"] == len(world.counters_of(ALPHA)) == len(body["counters"])
    assert [c["id"] for c in body["counters"]] == [c.id for c in world.counters_of(ALPHA)]
    first = body["counters"][0]
    assert first["create_time"].endswith("+03:00") and first["time_zone_offset"] == 180


async def test_counters_page_with_a_one_based_offset(client, world):
    expected = [c.id for c in world.counters_of(ALPHA)]
    seen, offset = [], 1
    while True:
        body = (
            await client.get("/management/v1/counters", headers=auth(ALPHA), params={"per_page": 4, "offset": offset})
        ).json()
        seen += [c["id"] for c in body["counters"]]
        offset += 4
        if offset > body["rows"]:
            break
    assert seen == expected


async def test_counters_filters(client, world):
    one = world.counters_of(BETA)[2]
    body = (await client.get("/management/v1/counters", headers=auth(BETA), params={"counter_ids": str(one.id)})).json()
    assert [c["id"] for c in body["counters"]] == [one.id]
    body = (await client.get("/management/v1/counters", headers=auth(BETA), params={"search_string": "mebel"})).json()
    assert body["rows"] == 1 and "mebel" in body["counters"][0]["site"]
    body = (await client.get("/management/v1/counters", headers=auth(BETA), params={"status": "Deleted"})).json()
    assert body == {"rows": 0, "counters": []}


async def test_one_counter(client, world):
    counter = world.counters_of(BETA)[0]
    r = await client.get(f"/management/v1/counter/{counter.id}", headers=auth(BETA))
    assert r.status_code == 200
    _same_shape(reference("counter.json"), r.json())
    assert r.json()["counter"]["name"] == counter.name
    assert r.json()["counter"]["time_zone_name"] == counter.time_zone


def _daily_params(cid: int, date1: str, date2: str, **extra) -> dict:
    return {
        "ids": str(cid),
        "metrics": ",".join(DAILY_METRICS),
        "dimensions": "ym:s:date",
        "date1": date1,
        "date2": date2,
        **extra,
    }


async def test_daily_report_matches_world_daily(client, world):
    cid = world.counters_of(ALPHA)[1].id
    r = await client.get("/stat/v1/data", headers=auth(ALPHA), params=_daily_params(cid, "2026-02-01", "2026-02-10"))
    assert r.status_code == 200
    body = r.json()
    _same_shape(reference("report_daily.json"), body)
    assert body["total_rows"] == 10 and body["query"]["ids"] == [cid]
    for row in body["data"]:
        day = world.daily(cid, dt.date.fromisoformat(row["dimensions"][0]["name"]), NOW)
        visits, users, pageviews, bounce, duration = row["metrics"]
        assert (visits, users, pageviews) == (day.visits, day.users, day.pageviews)
        assert bounce == pytest.approx(day.bounce_rate) and duration == pytest.approx(day.avg_visit_duration)
    visits = [row["metrics"][0] for row in body["data"]]
    assert body["totals"][0] == sum(visits) and body["min"][0] == min(visits) and body["max"][0] == max(visits)


async def test_totals_count_each_user_of_the_range_once_as_the_month_grain_does(client, world):
    """Like ClickHouse's WITH TOTALS: the users total of a range is its distinct users (fewer than
    the sum of its days'), so a daily report from a month's first day gives that month's users."""
    cid = world.counters_of(ALPHA)[1].id
    daily = (
        await client.get("/stat/v1/data", headers=auth(ALPHA), params=_daily_params(cid, "2026-02-01", "2026-02-28"))
    ).json()
    months = (
        await client.get(
            "/stat/v1/data",
            headers=auth(ALPHA),
            params={
                "ids": str(cid),
                "metrics": "ym:s:users",
                "dimensions": "ym:s:startOfMonth",
                "date1": "2026-02-01",
                "date2": "2026-02-28",
            },
        )
    ).json()
    users = DAILY_METRICS.index("ym:s:users")
    by_day = sum(row["metrics"][users] for row in daily["data"])
    assert daily["totals"][users] == months["data"][0]["metrics"][0] == world.month_users(cid, dt.date(2026, 2, 1), NOW)
    assert daily["totals"][users] < by_day


async def test_report_pages_with_limit_and_offset(client, world):
    cid = world.counters_of(ALPHA)[0].id
    pages, offset = [], 1
    while True:
        params = _daily_params(cid, "2025-12-01", "2026-02-28", limit=25, offset=offset)
        body = (await client.get("/stat/v1/data", headers=auth(ALPHA), params=params)).json()
        pages.append(body)
        offset += 25
        if offset > body["total_rows"]:
            break
    dates = [row["dimensions"][0]["name"] for page in pages for row in page["data"]]
    expected = [
        d for d in (dt.date(2025, 12, 1) + dt.timedelta(n) for n in range(90)) if world.daily(cid, d, NOW).visits
    ]
    assert len(pages) == 4 and dates == [d.isoformat() for d in expected]
    assert {p["total_rows"] for p in pages} == {len(expected)}


async def test_only_days_with_visits(client, world):
    counter = world.counters_of("demo-shop-gamma-token")[-1]  # created 2025-10-20
    body = (
        await client.get(
            "/stat/v1/data",
            headers=auth("demo-shop-gamma-token"),
            params=_daily_params(counter.id, "2025-10-01", "2025-10-31"),
        )
    ).json()
    dates = [row["dimensions"][0]["name"] for row in body["data"]]
    assert dates and min(dates) >= "2025-10-20"
    assert all(row["metrics"][0] > 0 for row in body["data"])


async def test_relative_dates_use_the_counters_today(client, world):
    cid = world.counters_of(ALPHA)[0].id
    body = (
        await client.get("/stat/v1/data", headers=auth(ALPHA), params=_daily_params(cid, "6daysAgo", "today"))
    ).json()
    assert (body["query"]["date1"], body["query"]["date2"]) == ("2026-03-04", "2026-03-10")
    today = body["data"][-1]
    assert today["metrics"][0] == world.daily(cid, dt.date(2026, 3, 10), NOW).visits  # partial
    body = (
        await client.get("/stat/v1/data", headers=auth(ALPHA), params=_daily_params(cid, "yesterday", "yesterday"))
    ).json()
    assert body["query"]["date1"] == "2026-03-09"


async def test_month_grain_users(client, world):
    cid = world.counters_of(ALPHA)[2].id
    params = {
        "ids": cid,
        "metrics": "ym:s:visits,ym:s:users",
        "group": "month",
        "date1": "2025-11-01",
        "date2": "2026-01-31",
    }
    r = await client.get("/stat/v1/data/bytime", headers=auth(ALPHA), params=params)
    assert r.status_code == 200
    body = r.json()
    _same_shape(reference("report_bytime_month.json"), body)
    assert body["time_intervals"] == [
        ["2025-11-01", "2025-11-30"],
        ["2025-12-01", "2025-12-31"],
        ["2026-01-01", "2026-01-31"],
    ]
    visits, users = body["data"][0]["metrics"]
    for i, month in enumerate((dt.date(2025, 11, 1), dt.date(2025, 12, 1), dt.date(2026, 1, 1))):
        assert users[i] == world.month_users(cid, month, NOW)
        days = world.days(cid, month, dt.date.fromisoformat(body["time_intervals"][i][1]), NOW)
        assert visits[i] == sum(d.visits for d in days)
        assert users[i] < sum(d.users for d in days)


async def test_start_of_month_dimension_agrees_with_bytime(client, world):
    cid = world.counters_of(BETA)[0].id
    common = {"ids": cid, "metrics": "ym:s:users", "date1": "2025-09-01", "date2": "2025-12-31"}
    data = (
        await client.get("/stat/v1/data", headers=auth(BETA), params={**common, "dimensions": "ym:s:startOfMonth"})
    ).json()
    bytime = (await client.get("/stat/v1/data/bytime", headers=auth(BETA), params={**common, "group": "month"})).json()
    assert [row["dimensions"][0]["name"] for row in data["data"]] == [
        "2025-09-01",
        "2025-10-01",
        "2025-11-01",
        "2025-12-01",
    ]
    assert [row["metrics"][0] for row in data["data"]] == bytime["data"][0]["metrics"][0]


async def test_sort_descending_by_a_metric(client, world):
    cid = world.counters_of(ALPHA)[0].id
    body = (
        await client.get(
            "/stat/v1/data",
            headers=auth(ALPHA),
            params=_daily_params(cid, "2026-02-01", "2026-02-28", sort="-ym:s:visits"),
        )
    ).json()
    visits = [row["metrics"][0] for row in body["data"]]
    days = world.days(cid, dt.date(2026, 2, 1), dt.date(2026, 2, 28), NOW)
    assert visits == sorted((d.visits for d in days if d.visits), reverse=True)


async def test_report_without_dimensions_is_one_row_of_totals(client, world):
    cid = world.counters_of(ALPHA)[0].id
    body = (
        await client.get(
            "/stat/v1/data",
            headers=auth(ALPHA),
            params={"ids": cid, "metrics": "ym:s:visits,ym:s:users", "date1": "2026-02-01", "date2": "2026-02-28"},
        )
    ).json()
    days = world.days(cid, dt.date(2026, 2, 1), dt.date(2026, 2, 28), NOW)
    assert body["total_rows"] == 1 and body["data"][0]["dimensions"] == []
    assert body["data"][0]["metrics"] == [sum(d.visits for d in days), world.month_users(cid, dt.date(2026, 2, 1), NOW)]
