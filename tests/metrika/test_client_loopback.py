"""The client against the simulator over real loopback HTTP: every call, and a quota-safe load."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import pytest

from metrika_tui.metrika import AuthError, MetrikaClient, RequestError, RetryPolicy
from metrika_tui.metrika.oauth import YandexIdClient
from metrika_tui.models import DailyStat, MonthUsers, ReportRequest
from metrika_tui.simulator import Simulator, SimulatorConfig, World
from metrika_tui.simulator.config import LatencyConfig
from metrika_tui.tokens import Token

FAST_RETRY = RetryPolicy(attempts=4, initial_wait=0.01, max_wait=0.1, total=3.0)
YESTERDAY = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)


@pytest.fixture(scope="module")
def world() -> World:
    return World.generate(seed=11, accounts=2, counters_per_account=5)


@pytest.fixture(scope="module")
def base_url(world):
    with Simulator(world, SimulatorConfig()).serve_in_thread(host="127.0.0.1", port=0) as url:
        yield url


@pytest.fixture
async def client(base_url):
    async with MetrikaClient(base_url, retry=FAST_RETRY, counters_page_size=2, report_page_size=7) as c:
        yield c


async def test_list_counters_reads_every_page(client, world):
    account = world.accounts[0]
    counters = await client.list_counters(Token(account.token))
    assert [c.id for c in counters] == list(account.counter_ids)  # 5 counters, pages of 2
    # the world keeps zone names; the API adds each one's offset now (the fallback zone)
    assert all(c.time_zone_offset in range(120, 721) for c in counters)
    assert [dataclasses.replace(c, time_zone_offset=None) for c in counters] == world.counters_of(account.token)


async def test_get_counter(client, world):
    account = world.accounts[1]
    counter_id = account.counter_ids[3]
    counter = await client.get_counter(Token(account.token), counter_id)
    assert dataclasses.replace(counter, time_zone_offset=None) == world.counter(counter_id)


async def test_daily_report_pages_and_matches_the_world(client, world):
    account = world.accounts[0]
    counter_id = account.counter_ids[0]
    first = YESTERDAY - dt.timedelta(days=19)
    (report,) = await client.read_window(Token(account.token), counter_id, [ReportRequest(first, YESTERDAY)])
    assert len(report.raw_pages) == 3  # 20 days, pages of 7
    assert report.total_rows == 20
    assert all(isinstance(row, DailyStat) for row in report.rows)
    expected = world.days(counter_id, first, YESTERDAY)
    assert [(r.date, r.visits, r.users, r.pageviews) for r in report.rows] == [
        (d.date, d.visits, d.users, d.pageviews) for d in expected
    ]
    assert [r.bounce_rate for r in report.rows] == pytest.approx([d.bounce_rate for d in expected], abs=0.01)


async def test_monthly_users_at_month_grain(client, world):
    account = world.accounts[0]
    counter_id = account.counter_ids[1]
    month = (YESTERDAY.replace(day=1) - dt.timedelta(days=1)).replace(day=1)  # last full month
    request = ReportRequest(month, month + dt.timedelta(days=3), grain="month")
    (report,) = await client.read_window(Token(account.token), counter_id, [request])
    assert report.rows == (MonthUsers(month, world.month_users(counter_id, month)),)
    days = world.days(counter_id, month, (month + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1))
    assert report.rows[0].users < sum(d.users for d in days)


async def test_unknown_token_is_dead_and_foreign_counter_is_denied(client, world):
    with pytest.raises(AuthError) as dead:
        await client.list_counters(Token("y0_not_a_token_of_this_world"))
    assert dead.value.token_dead
    mine, theirs = world.accounts
    with pytest.raises(AuthError) as denied:
        await client.get_counter(Token(mine.token), theirs.counter_ids[0])
    assert not denied.value.token_dead and denied.value.error_type == "access_denied"


async def test_a_bad_request_keeps_the_apis_message(client, world):
    account = world.accounts[0]
    with pytest.raises(RequestError) as caught:  # date2 before date1
        backwards = ReportRequest(YESTERDAY, YESTERDAY - dt.timedelta(days=5))
        await client.read_window(Token(account.token), account.counter_ids[0], [backwards])
    assert caught.value.status == 400 and caught.value.message


@pytest.mark.slow
async def test_many_concurrent_reports_stay_under_every_quota_yet_use_the_rate():
    """300 daily reports over 10 tokens, gathered at once: no 429, and most of the rate used."""
    world = World.generate(seed=5, accounts=10, counters_per_account=3, outage_share=0.0)
    config = SimulatorConfig(latency=LatencyConfig(kind="fixed", median_ms=120.0))
    sim = Simulator(world, config)
    first = YESTERDAY - dt.timedelta(days=6)
    with sim.serve_in_thread(host="127.0.0.1", port=0) as url:
        async with MetrikaClient(url, retry=RetryPolicy(attempts=1)) as client:
            jobs = [
                client.read_window(Token(account.token), counter_id, [ReportRequest(first, YESTERDAY)])
                for account in world.accounts
                for counter_id in account.counter_ids
                for _ in range(10)
            ]
            reports = [window[0] for window in await asyncio.gather(*jobs)]
            client_stats = client.stats()
    stats = sim.stats.snapshot()
    assert len(reports) == 300 and all(len(r.rows) == 7 for r in reports)
    assert client_stats.quota_errors == 0 and client_stats.retries == 0
    print(stats)


async def test_a_source_address_is_where_requests_leave_from_and_names_its_pace_file(world, tmp_path, monkeypatch):
    """Bound to 127.0.0.3, the client is another host to the API (its per-address quota), and
    paces through a file of that address's: processes on other addresses are not waited for."""
    monkeypatch.setenv("METRIKA_CACHE_DIR", str(tmp_path))
    sim = Simulator(world, SimulatorConfig())
    with sim.serve_in_thread(host="127.0.0.1", port=0) as url:
        async with MetrikaClient(url, retry=FAST_RETRY, source_address="127.0.0.3") as bound:
            await bound.list_counters(Token(world.accounts[0].token))
        async with MetrikaClient(url, retry=FAST_RETRY) as plain:
            await plain.list_counters(Token(world.accounts[1].token))
    assert sim.stats.by_address == {"127.0.0.3": 1, "127.0.0.1": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pace", "pace-127.0.0.3"]


async def test_yandex_id_is_asked_from_the_source_address_too():
    peers: list[str] = []
    body = b'{"login": "alpha", "id": "4242"}'

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer.get_extra_info("peername")[0])
        await reader.readuntil(b"\r\n\r\n")
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        writer.write(head.encode() + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    async with server:
        yandex_id = YandexIdClient(url, url, source_address="127.0.0.4")
        try:
            who = await yandex_id.identity(Token("y0_a-token-of-alpha-1234"))
        finally:
            await yandex_id.aclose()
    assert (who.login, peers) == ("alpha", ["127.0.0.4"])
