"""The store's queue, plans and reads on both backends (`store_backend`: a SQLite file, then a
PostgreSQL database), and what only PostgreSQL has: claims from many connections at once,
word of queued work, its errors in plain words."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
from collections import Counter as Tally
from functools import partial

import psycopg
import pytest

from metrika_tui.engine.planner import PlanMode, choose
from metrika_tui.models import Counter, DailyStat, MonthUsers
from metrika_tui.settings import Settings
from metrika_tui.store import ExportQuery, Store, StoreError
from metrika_tui.store.schema import SCHEMA_VERSION
from metrika_tui.tokens import Token

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
LEASE = 30.0


async def seeded(location, logins: int, counters: int) -> Store:
    """A store with `logins` accounts of `counters` counters each, every counter queued."""
    store = await Store.open(location)
    for n in range(logins):
        account = await store.add_account(user_id=None, login=f"login-{n}", token=Token(f"y0_{n:030d}"), now=NOW)
        ids = [1000 * (n + 1) + i for i in range(counters)]
        await store.upsert_counters(account.id, [Counter(cid, f"c{cid}", f"{cid}.example") for cid in ids], now=NOW)
    await plan(store)
    return store


async def plan(store: Store, **options):
    return await store.plan_jobs(
        now=NOW,
        choose=partial(choose, settings=Settings(), now=NOW, moment=NOW, mode=PlanMode.FITS, force=True),
        **options,
    )


async def finish(store: Store, job, now: dt.datetime = NOW) -> bool:
    day = now.date()
    return await store.record_fetch(
        job,
        now=now,
        daily=[DailyStat(day, 10, 5, 30, 20.0, 60.0)],
        month_users=[MonthUsers(day.replace(day=1), 5)],
        raw_pages=[("daily", {"rows": 1})],
        newest_day=day,
    )


async def test_claims_keep_each_logins_limit_and_a_finished_job_frees_its_place(store_backend):
    store = await seeded(store_backend, logins=2, counters=5)
    try:
        claimed = []
        while job := await store.claim_next_job(f"w{len(claimed)}", NOW, LEASE, 3):
            claimed.append(job)
        assert Tally(j.login for j in claimed) == {"login-0": 3, "login-1": 3}
        assert len({j.id for j in claimed}) == 6

        assert await finish(store, claimed[0])
        again = await store.claim_next_job("w-next", NOW, LEASE, 3)
        assert again is not None and again.login == claimed[0].login and again.id not in {j.id for j in claimed}
        assert await store.claim_next_job("w-more", NOW, LEASE, 3) is None  # both logins full again
        assert (await store.running_per_account(NOW)) == {1: 3, 2: 3}
    finally:
        await store.close()


async def test_late_writes_of_a_lost_lease_are_refused_and_the_job_counts_it_lost(store_backend):
    store = await seeded(store_backend, logins=1, counters=1)
    try:
        held = await store.claim_next_job("stalled", NOW, LEASE, 3)
        assert await store.claim_next_job("other", NOW, LEASE, 3) is None
        later = NOW + dt.timedelta(seconds=LEASE + 1)
        taken = await store.claim_next_job("other", later, LEASE, 3)
        assert (taken.id, taken.lost, taken.lease_owner) == (held.id, 1, "other")

        assert not await finish(store, held, later)
        assert not await store.renew_lease(held, later, LEASE)
        assert await store.retry_job(held, now=later, run_after=later, error="late", max_attempts=5) is None
        assert not await store.fail_job(held, now=later, error="late")
        assert not await store.release_job(held, now=later)
        assert await store.renew_lease(taken, later, LEASE)
        assert await finish(store, taken, later)
        (record,) = await store.job_history(held.counter_id)
        assert (record.status, record.lost, record.attempts) == ("done", 1, 0)
    finally:
        await store.close()


async def test_one_live_job_per_counter_and_one_plan_per_slot(store_backend):
    store = await seeded(store_backend, logins=1, counters=3)
    try:
        again = await plan(store)
        assert (again.queued, len(again.already_live)) == ([], 3)
        slot = ("sync", "2026-03-10T12:00:00+00:00")
        first, second = await plan(store, slot=slot, origin="a"), await plan(store, slot=slot, origin="b")
        assert first.slot_taken and not second.slot_taken
        assert await store.planned_slots() == [(slot[1], "a")]
        assert await store.queue_depth() == 3

        job = await store.claim_next_job("w", NOW, LEASE, 3)
        assert await store.fail_job(job, now=NOW, error="boom")
        assert await store.requeue_failed(NOW) == 1
        assert await store.requeue_failed(NOW) == 0  # queued already: no second live job
        assert await store.live_counter_ids() == {1000, 1001, 1002}
    finally:
        await store.close()


async def test_a_revoked_account_cancels_its_jobs_and_finishes_its_run(store_backend):
    store = await seeded(store_backend, logins=2, counters=2)
    try:
        assert await store.revoke_account(1, reason="token dead", now=NOW, only_if_active=True)
        assert not await store.revoke_account(1, reason="token dead", now=NOW, only_if_active=True)
        assert await store.live_counter_ids() == {2000, 2001}
        claimed = [await store.claim_next_job(f"w{i}", NOW, LEASE, 3) for i in range(3)]
        assert sorted(j.counter_id for j in claimed if j) == [2000, 2001]
        assert (await store.scope()).revoked_accounts == 1
    finally:
        await store.close()


async def test_the_export_streams_every_row_in_batches(store_backend):
    store = await seeded(store_backend, logins=2, counters=3)
    try:
        while job := await store.claim_next_job("w", NOW, LEASE, 10):
            assert await finish(store, job)
        query = ExportQuery("daily", counter_ids=frozenset({1000, 1001, 2000, 2002}))
        assert await store.export_count(query) == 4
        batches = [rows async for rows in store.export_batches(query, batch=3)]
        assert [len(b) for b in batches] == [3, 1]
        assert [row[0] for b in batches for row in b] == [1000, 1001, 2000, 2002]
        async with contextlib.aclosing(store.export_batches(ExportQuery("monthly"), batch=1)) as rows:
            async for first in rows:  # stopped after the first batch: the connection is free again
                assert len(first) == 1
                break
        assert await store.counter_accounts({1000, 2002, 9}) == {1000: 1, 2002: 2}
    finally:
        await store.close()


async def test_claims_from_many_connections_at_once_never_pass_three_per_login_nor_take_a_job_twice(store_backend):
    """Eight processes' worth of connections claim, hold and finish one queue as fast as they
    can: at no moment does a login run more than 3 jobs, and each job is claimed once."""
    store = await seeded(store_backend, logins=3, counters=12)
    await store.close()
    stores = [await Store.open(store_backend) for _ in range(8)]
    running: dict[str, set[int]] = {}
    peak: Tally[str] = Tally()
    claims: Tally[int] = Tally()
    rng = random.Random(7)

    async def worker(n: int, own: Store) -> None:
        idle = 0
        while idle < 3:
            job = await own.claim_next_job(f"h{n}", NOW, LEASE, 3)
            if job is None:
                idle += 1
                await asyncio.sleep(0.01)
                continue
            idle = 0
            claims[job.id] += 1
            held = running.setdefault(job.login, set())
            held.add(job.id)
            peak[job.login] = max(peak[job.login], len(held))
            await asyncio.sleep(rng.uniform(0.01, 0.03))  # long enough for the others to fill the login
            held.discard(job.id)  # before the finish commits: the held set never over-counts
            assert await finish(own, job)

    async def watch(stop: asyncio.Event) -> Tally[str]:
        most: Tally[str] = Tally()
        while not stop.is_set():
            for login, n in await stores[0].db.fetchall(
                "SELECT login, COUNT(*) FROM jobs WHERE status = 'running' GROUP BY login"
            ):
                most[login] = max(most[login], n)
            await asyncio.sleep(0.002)
        return most

    stop = asyncio.Event()
    watcher = asyncio.create_task(watch(stop))
    try:
        await asyncio.wait_for(asyncio.gather(*(worker(n, s) for n, s in enumerate(stores))), 60)
    finally:
        stop.set()
        seen = await watcher
        for s in stores[1:]:
            await s.close()
    try:
        assert sorted(claims.values()) == [1] * 36  # every job claimed exactly once
        assert max(peak.values()) <= 3 and max(seen.values(), default=0) <= 3, (peak, seen)
        assert max(peak.values()) == 3  # the limit was reached: the test could have failed
        assert await stores[0].queue_depth() == 0
    finally:
        await stores[0].close()


# -- PostgreSQL alone ----------------------------------------------------------------------------


async def test_workers_hear_of_jobs_another_connection_queues(pg_database):
    planner, listener = await seeded(pg_database, logins=1, counters=0), await Store.open(pg_database)
    try:
        waiting = asyncio.create_task(listener.wait_for_work(30))
        await asyncio.sleep(0)  # let it start listening
        while not listener.db._listener:  # connected and listening before the plan is made
            await asyncio.sleep(0.01)
        account = (await planner.accounts())[0]
        await planner.upsert_counters(account.id, [Counter(77, "c77", "77.example")], now=NOW)
        await plan(planner)
        assert await asyncio.wait_for(waiting, 30) is True
    finally:
        await planner.close()
        await listener.close()


async def test_a_dropped_connection_is_opened_again_once(pg_database, pg_server):
    store = await seeded(pg_database, logins=1, counters=2)
    try:
        pid = (await store.db.fetchone("SELECT pg_backend_pid()"))[0]
        with psycopg.connect(pg_server.url("postgres"), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert await store.queue_depth() == 2  # the read found the connection gone and reconnected
        assert (await store.db.fetchone("SELECT pg_backend_pid()"))[0] != pid
        assert await store.claim_next_job("w", NOW, LEASE, 3) is not None
    finally:
        await store.close()


async def test_two_processes_opening_an_empty_database_at_once_migrate_it_once(pg_server):
    location = pg_server.database(empty=True)
    try:
        first, second = await asyncio.gather(Store.open(location), Store.open(location))
        assert await first.db.fetchall("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
        await first.close()
        await second.close()
    finally:
        pg_server.drop(location)


async def test_a_database_of_a_newer_release_is_refused(pg_database):
    with psycopg.connect(pg_database.url, autocommit=True) as conn:
        conn.execute("UPDATE schema_version SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match=rf"newer metrika-tui \(schema {SCHEMA_VERSION + 1}.*upgrade"):
        await Store.open(pg_database)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"password": "wrong-Pa55word"}, "refused the user or password"),
        ({"database": "no_such_db"}, "the database 'no_such_db' does not exist"),
        ({"port": "1"}, "cannot reach the PostgreSQL server"),
    ],
)
async def test_what_the_server_refuses_is_said_plainly_without_the_password(pg_server, change, words):
    from metrika_tui.store_location import StoreLocation

    url = pg_server.url(change.get("database", "postgres")).replace(
        "metrika-test-pw", change.get("password", "metrika-test-pw")
    )
    if "port" in change:
        url = url.replace(f":{pg_server.port}/", f":{change['port']}/")
    with pytest.raises(StoreError) as caught:
        await Store.open(StoreLocation.parse(url))
    message = str(caught.value)
    assert words in message, message
    assert "metrika-test-pw" not in message and "wrong-Pa55word" not in message
    assert "postgresql://metrika:***@127.0.0.1" in message


async def test_report_bookings_from_many_connections_never_pass_the_budget_in_any_window(pg_database):
    """Six connections book one login's reports as fast as they can at moments a few seconds
    apart: the bookings granted (a wait up to max_wait) never put more than the budget in any
    window, and a refusal names when the window has room."""
    stores = [await Store.open(pg_database) for _ in range(6)]
    budget, span = 20, dt.timedelta(seconds=300)
    granted: list[dt.datetime] = []

    async def book(store: Store, offset: int) -> None:
        for step in range(12):
            now = NOW + dt.timedelta(seconds=offset + 7 * step)
            moment, used = await store.book_reports("login-a", now=now, need=1, budget=budget, span=span, max_wait=3)
            if (moment - now).total_seconds() <= 3:
                granted.append(moment)
            else:
                assert moment > now + dt.timedelta(seconds=3)  # refused: when the window frees
            assert used <= budget

    try:
        await asyncio.gather(*(book(s, n) for n, s in enumerate(stores)))
        granted.sort()
        assert len(granted) == budget  # all within one window: exactly the budget, by whoever came first
        for i, start in enumerate(granted):  # any window of the span: at most `budget` bookings
            assert sum(1 for g in granted[i:] if g < start + span) <= budget, start
    finally:
        for s in stores:
            await s.close()
