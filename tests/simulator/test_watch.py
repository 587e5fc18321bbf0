"""The simulator's watch: the per-address quota keyed by the client's address, and every request
the real API would have refused listed (when, which rule, whose login, from which address),
whether or not the quota is enforced."""

from __future__ import annotations

import asyncio

import httpx

from metrika_tui.simulator import LatencyConfig, QuotaConfig, Simulator, SimulatorConfig, World
from metrika_tui.simulator.quotas import Rule

from .helpers import ALPHA, BETA, NOW, auth, make_sim

PER_ADDRESS, IN_FLIGHT, REPORTS, PER_DAY = Rule.PER_ADDRESS, Rule.IN_FLIGHT, Rule.REPORTS, Rule.PER_DAY

COUNTERS = "/management/v1/counters"


def from_address(sim: Simulator, address: str) -> httpx.AsyncClient:
    """An in-process client the simulator sees as coming from `address`."""
    transport = httpx.ASGITransport(app=sim.app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://metrika.test")


def report_params(world: World, token: str = ALPHA) -> dict:
    return {"ids": world.counters_of(token)[0].id, "metrics": "ym:s:visits", "date1": "yesterday", "date2": "today"}


async def test_the_per_address_quota_is_counted_by_the_clients_address(world, clock):
    sim = make_sim(world, clock)
    async with from_address(sim, "127.0.0.2") as two, from_address(sim, "127.0.0.3") as three:
        first = [(await two.get(COUNTERS, headers=auth(ALPHA))).status_code for _ in range(30)]
        other = [(await three.get(COUNTERS, headers=auth(ALPHA))).status_code for _ in range(30)]
        over = await two.get(COUNTERS, headers=auth(BETA))
    assert first == other == [200] * 30  # two hosts: 30 a second each
    assert over.status_code == 429 and over.json()["errors"][0]["error_type"] == "quota_requests_by_ip"
    assert sim.stats.by_address == {"127.0.0.2": 31, "127.0.0.3": 30}
    (breach,) = sim.stats.violations()  # the refused one is a breach too: it was sent
    assert (breach.rule, breach.address, breach.login, breach.seen, breach.limit) == (
        PER_ADDRESS,
        "127.0.0.2",
        None,
        30,
        30,
    )
    assert breach.at == NOW.timestamp()


async def test_a_fourth_request_in_flight_is_a_breach_though_not_refused(world, clock):
    """Nothing enforced: every request answered, and the watch names the one over the limit."""
    latency = LatencyConfig(kind="fixed", median_ms=50.0)
    sim = make_sim(world, clock, quotas=QuotaConfig.unlimited(), latency=latency)
    async with from_address(sim, "127.0.0.4") as http:
        together = await asyncio.gather(*(http.get(COUNTERS, headers=auth(ALPHA)) for _ in range(4)))
    assert [r.status_code for r in together] == [200] * 4
    (breach,) = sim.stats.violations()
    login = world.account(ALPHA).login
    assert (breach.rule, breach.login, breach.address, breach.seen, breach.limit) == (
        IN_FLIGHT,
        login,
        "127.0.0.4",
        3,
        3,
    )
    assert sim.stats.snapshot()["violations"] == [breach.to_dict()]


async def test_reports_over_the_window_and_requests_over_the_day_are_breaches(world, clock):
    sim = make_sim(world, clock, quotas=QuotaConfig.unlimited(), watch=QuotaConfig(per_login_per_day=250))
    async with from_address(sim, "127.0.0.4") as http:
        for _ in range(201):
            assert (await http.get("/stat/v1/data", headers=auth(ALPHA), params=report_params(world))).is_success
            clock.advance(0.05)  # within the per-address second's 30
        clock.advance(301)  # the report window is over, the day is not
        for _ in range(60):
            assert (await http.get(COUNTERS, headers=auth(ALPHA))).is_success
            clock.advance(0.05)
    rules = [v.rule for v in sim.stats.violations()]
    assert rules.index(REPORTS) == 0 and rules.count(REPORTS) == 1  # the 201st report of the window
    assert rules.count(PER_DAY) == 201 + 60 - 250  # every request past the day's 250
    assert sim.stats.snapshot()["breaches"] == {REPORTS: 1, PER_DAY: 11}
    assert {v.login for v in sim.stats.violations()} == {world.account(ALPHA).login}


async def test_a_client_within_the_limits_leaves_no_breach(world, clock):
    sim = make_sim(world, clock)
    async with from_address(sim, "127.0.0.2") as http:
        for _ in range(3):
            for token in (ALPHA, BETA):
                assert (
                    await http.get("/stat/v1/data", headers=auth(token), params=report_params(world, token))
                ).is_success
            clock.advance(0.2)
    assert sim.stats.violations() == [] and sim.stats.snapshot()["breaches"] == {}


def test_served_on_every_address_it_is_reached_on_loopback_from_other_loopback_addresses():
    """Linux routes all of 127.0.0.0/8 to loopback: a client bound to 127.0.0.2 is another host."""
    sim = Simulator(World.demo(), SimulatorConfig())
    with sim.serve_in_thread(host="0.0.0.0", port=0) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        for address in ("127.0.0.2", "127.0.0.3"):
            transport = httpx.HTTPTransport(local_address=address)
            with httpx.Client(base_url=base_url, transport=transport) as http:
                assert http.get(COUNTERS, headers=auth(ALPHA)).status_code == 200
    assert sim.stats.by_address == {"127.0.0.2": 1, "127.0.0.3": 1}
