"""A login's report budget shared by every host, on PostgreSQL: two clients (two processes'
worth, each with its own connection) book it in the database, so together they stay under it.
On SQLite each process keeps its own book (SQLite serves one host), and the server's 429
shows the two overrun it: the same steps that pass on PostgreSQL fail there."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from metrika_tui.metrika.errors import QuotaError
from metrika_tui.metrika.limits import REPORT_BUDGET
from metrika_tui.models import ReportRequest
from metrika_tui.simulator import QuotaConfig, World
from metrika_tui.store import Store
from metrika_tui.tokens import Token

from .helpers import NOW, add_accounts, client_for, rig

BUDGET, WINDOW = 4, 300  # a job reads 2 reports: 2 jobs of the login per window
QUOTAS = QuotaConfig(per_ip_per_second=None, reports_per_window=BUDGET, report_window_seconds=WINDOW)
TWO_REPORTS = [
    ReportRequest(dt.date(2026, 2, 1), dt.date(2026, 2, 28)),
    ReportRequest(dt.date(2026, 3, 1), dt.date(2026, 3, 9)),
]


async def test_two_clients_on_one_login_book_its_report_budget_together(tmp_path, store_backend):
    world = World.generate(seed=87, accounts=1, counters_per_account=3)
    token, login = Token(world.tokens[0]), world.accounts[0].login
    first_counter, second_counter, third_counter = world.accounts[0].counter_ids
    async with rig(tmp_path, world, quotas=QUOTAS) as r:
        stores = [await Store.open(r.db), await Store.open(r.db)]
        clients = [client_for(r.sim.app, r.clock, report_budget=BUDGET, report_window_seconds=WINDOW) for _ in stores]
        try:
            if store_backend.is_postgres:
                for client, store in zip(clients, stores):
                    client.share_report_budget(store)
            one, other = clients
            await one.read_window(token, first_counter, TWO_REPORTS, login=login)
            await other.read_window(token, second_counter, TWO_REPORTS, login=login)  # the budget is spent now
            with pytest.raises(QuotaError) as caught:
                await other.read_window(token, third_counter, TWO_REPORTS, login=login)
            if store_backend.is_postgres:  # refused before sending, with when the window has room
                assert caught.value.error_type == REPORT_BUDGET
                assert caught.value.retry_at == NOW + dt.timedelta(seconds=WINDOW + 1)
                assert not r.sim.stats.quota_rejections
            else:  # this process's own book had room: the server refused it
                assert r.sim.stats.quota_rejections["quota_requests_by_uid"] == 1
        finally:
            for client, store in zip(clients, stores):
                await client.aclose()
                await store.close()


@pytest.mark.postgres_only
async def test_two_engines_on_one_login_sync_everything_with_no_429(tmp_path):
    world = World.generate(seed=88, accounts=1, counters_per_account=6)
    counters = set(world.accounts[0].counter_ids)
    async with rig(tmp_path, world, quotas=QUOTAS) as r:
        limits = {"report_budget": BUDGET, "report_window_seconds": WINDOW}
        first, second = await r.engine(**limits), await r.engine(**limits)
        await add_accounts(first, world)
        await first.plan()
        done: set[int] = set()
        for _ in range(8):  # a window at a time: 2 jobs of the login each, 3 windows for 6
            for run in await asyncio.gather(first.run_until_idle(), second.run_until_idle()):
                done |= {o.counter_id for o in run if o.ok}
            if done == counters:
                break
            r.set_clock(r.clock.now() + dt.timedelta(seconds=WINDOW + 2))
        assert done == counters
        assert not r.sim.stats.quota_rejections, r.sim.stats.quota_rejections
        assert [await first.store.raw_answer_count(cid) for cid in sorted(counters)] == [2] * 6  # none read twice
        assert first._results and second._results  # both took part
