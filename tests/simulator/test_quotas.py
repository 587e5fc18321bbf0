"""Each quota is enforced with the real error_type, and frees up when its window says (manual clock)."""

from __future__ import annotations

import asyncio
import datetime as dt

from metrika_tui.simulator import LatencyConfig, QuotaConfig, World

from .helpers import ALPHA, BETA, auth, in_process, make_sim

UNLIMITED_IP = {"per_ip_per_second": None}


def _report_params(world, token=ALPHA, index=0) -> dict:
    return {"ids": world.counters_of(token)[index].id, "metrics": "ym:s:visits", "date1": "yesterday", "date2": "today"}


async def _statuses(http, n: int, path: str, token: str, params=None) -> list[int]:
    return [(await http.get(path, headers=auth(token), params=params)).status_code for _ in range(n)]


def _error_type(r) -> str:
    return r.json()["errors"][0]["error_type"]


def test_defaults_are_the_real_apis_quotas():
    q = QuotaConfig()
    assert (
        q.per_ip_per_second,
        q.parallel_per_login,
        q.reports_per_window,
        q.report_window_seconds,
        q.per_login_per_day,
        q.per_counter_per_day,
    ) == (30, 3, 200, 300.0, 5000, 5000)


async def test_30_requests_a_second_per_address(world, clock):
    sim = make_sim(world, clock)
    async with in_process(sim) as http:
        assert await _statuses(http, 30, "/management/v1/counters", ALPHA) == [200] * 30
        r = await http.get("/management/v1/counters", headers=auth(BETA))  # another token, same address
        assert r.status_code == 429 and _error_type(r) == "quota_requests_by_ip"
        clock.advance(0.5)
        assert (await http.get("/management/v1/counters", headers=auth(ALPHA))).status_code == 429
        clock.advance(0.51)  # the first second has passed
        assert await _statuses(http, 30, "/management/v1/counters", ALPHA) == [200] * 30
    assert sim.stats.quota_rejections["quota_requests_by_ip"] == 2
    assert sim.stats.peak_rps >= 31


async def test_200_reports_per_5_minutes_per_login(world, clock):
    sim = make_sim(world, clock, quotas=QuotaConfig(**UNLIMITED_IP))
    async with in_process(sim) as http:
        params = _report_params(world)
        assert set(await _statuses(http, 200, "/stat/v1/data", ALPHA, params)) == {200}
        r = await http.get("/stat/v1/data", headers=auth(ALPHA), params=params)
        assert r.status_code == 429 and _error_type(r) == "quota_requests_by_uid"
        assert "5 minutes" in r.json()["message"] and "200" in r.json()["message"]
        # the Management API and other tokens are not in this budget
        assert (await http.get("/management/v1/counters", headers=auth(ALPHA))).status_code == 200
        assert (
            await http.get("/stat/v1/data", headers=auth(BETA), params=_report_params(world, BETA))
        ).status_code == 200
        clock.advance(299)
        assert (await http.get("/stat/v1/data", headers=auth(ALPHA), params=params)).status_code == 429
        clock.advance(1.01)
        assert (await http.get("/stat/v1/data", headers=auth(ALPHA), params=params)).status_code == 200
    assert sim.quotas.report_budget_used(world.account(ALPHA).login) == 1


async def test_report_window_is_sliding(world, clock):
    sim = make_sim(world, clock, quotas=QuotaConfig(per_ip_per_second=None, reports_per_window=4))
    async with in_process(sim) as http:
        params = _report_params(world)
        assert await _statuses(http, 2, "/stat/v1/data", ALPHA, params) == [200, 200]
        clock.advance(200)
        assert await _statuses(http, 3, "/stat/v1/data", ALPHA, params) == [200, 200, 429]
        clock.advance(100.5)  # the first two fell out of the window, the later two did not
        assert await _statuses(http, 3, "/stat/v1/data", ALPHA, params) == [200, 200, 429]


async def test_daily_quota_per_login_resets_at_utc_midnight(world, clock):
    sim = make_sim(world, clock, quotas=QuotaConfig(per_ip_per_second=None, per_login_per_day=5))
    async with in_process(sim) as http:
        assert await _statuses(http, 5, "/management/v1/counters", ALPHA) == [200] * 5
        r = await http.get("/management/v1/counters", headers=auth(ALPHA))
        assert r.status_code == 429 and _error_type(r) == "quota_requests_by_uid" and "Daily" in r.json()["message"]
        assert (await http.get("/management/v1/counters", headers=auth(BETA))).status_code == 200
        clock.set(dt.datetime(2026, 3, 10, 23, 59, 59, tzinfo=dt.UTC))
        assert (await http.get("/management/v1/counters", headers=auth(ALPHA))).status_code == 429
        clock.set(dt.datetime(2026, 3, 11, 0, 0, 1, tzinfo=dt.UTC))
        assert (await http.get("/management/v1/counters", headers=auth(ALPHA))).status_code == 200


async def test_daily_quota_per_counter(world, clock):
    sim = make_sim(world, clock, quotas=QuotaConfig(per_ip_per_second=None, per_counter_per_day=3))
    async with in_process(sim) as http:
        params = _report_params(world)
        statuses = await _statuses(http, 4, "/stat/v1/data", ALPHA, params)
        assert statuses == [200, 200, 200, 429]
        r = await http.get("/stat/v1/data", headers=auth(ALPHA), params=params)
        assert _error_type(r) == "quota_requests_by_counter_id"
        assert (
            await http.get("/stat/v1/data", headers=auth(ALPHA), params=_report_params(world, index=1))
        ).status_code == 200


async def test_three_requests_in_flight_per_login(world, clock):
    sim = make_sim(world, clock, quotas=QuotaConfig(**UNLIMITED_IP), latency=LatencyConfig(median_ms=30))
    async with in_process(sim) as http:
        answers = await asyncio.gather(*(http.get("/management/v1/counters", headers=auth(ALPHA)) for _ in range(5)))
        other = await asyncio.gather(
            *(http.get("/management/v1/counters", headers=auth(t)) for t in (ALPHA, ALPHA, ALPHA, BETA, BETA))
        )
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200, 200, 200, 429, 429]
    assert {_error_type(r) for r in answers if r.status_code == 429} == {"quota_parallel_requests"}
    assert sorted(r.status_code for r in other) == [200] * 5  # the slots came back; BETA has its own
    assert sim.stats.max_in_flight == 3 and sim.stats.for_token(ALPHA).max_in_flight == 3
    assert sim.stats.in_flight == 0 and sim.quotas.in_flight[world.account(ALPHA).login] == 0


async def test_rejected_requests_use_up_nothing(world, clock):
    sim = make_sim(world, clock, quotas=QuotaConfig(per_ip_per_second=None, per_login_per_day=3))
    async with in_process(sim) as http:
        assert await _statuses(http, 6, "/management/v1/counters", ALPHA) == [200, 200, 200, 429, 429, 429]
    assert sim.stats.for_token(ALPHA).admitted == 3 and sim.stats.for_token(ALPHA).rejected == 3
    assert sim.stats.rejected == 3 and sim.stats.ok == 3


async def test_quotas_can_be_switched_off(world, clock):
    sim = make_sim(world, clock, quotas=QuotaConfig.unlimited())
    async with in_process(sim) as http:
        assert set(await _statuses(http, 250, "/stat/v1/data", ALPHA, _report_params(world))) == {200}


async def test_tokens_of_one_login_share_its_quotas(clock):
    """Metrika counts the per-user quotas per login: a second token of it adds nothing."""
    world = World.generate(seed=3, accounts=3, counters_per_account=2, logins=2, clock=clock)
    first, other, second = world.tokens  # tokens 0 and 2 belong to login 0
    assert world.account(first).login == world.account(second).login != world.account(other).login
    sim = make_sim(world, clock, quotas=QuotaConfig(per_ip_per_second=None, reports_per_window=4, per_login_per_day=6))
    async with in_process(sim) as http:
        assert await _statuses(http, 2, "/stat/v1/data", first, _report_params(world, first)) == [200, 200]
        assert await _statuses(http, 3, "/stat/v1/data", second, _report_params(world, second)) == [200, 200, 429]
        assert (
            await http.get("/stat/v1/data", headers=auth(other), params=_report_params(world, other))
        ).status_code == 200
        assert await _statuses(http, 2, "/management/v1/counters", first) == [200, 200]  # the day's 6th request
        r = await http.get("/management/v1/counters", headers=auth(second))
        assert r.status_code == 429 and "Daily" in r.json()["message"]
    assert sim.quotas.used_today(world.account(first).login) == 6
