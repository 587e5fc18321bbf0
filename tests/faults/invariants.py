"""The one invariant checker every fault test ends with.

After the trouble is over, the database must say that nothing was lost, nothing was done
twice and nothing was left behind:

- every account of the world is there, revoked exactly when its token was;
- every active counter of a live account has exactly `passes` jobs, each of them done
  (a job history row with ok), and no other job: none failed, cancelled, lost or doubled;
- no job is live (queued or running) and no lease owner is left on any job;
- a revoked account's counters hold at most `passes` done jobs, the rest cancelled;
- every daily row is the world's figure for that day, written by the done job whose
  window covered it (its `fetched_at` is that job's `finished_at`: a killed or fenced
  worker's late write would show), with exactly the days that had visits; the monthly
  rows add up their days, with users at month grain from the world;
- SQLite finds the file sound (`PRAGMA integrity_check`, `foreign_key_check`); on PostgreSQL
  the server's constraints keep that, and the same SQL checks the rest.

Today is still going while a pass runs, so today's figures grow between the claim and the
write: a row for today must lie between the world at the job's start and at its finish.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from metrika_tui.jobs import JobStatus
from metrika_tui.models import DailyStat, month_start
from metrika_tui.simulator import World
from metrika_tui.store import Store
from metrika_tui.store.rows import from_ts
from metrika_tui.store_location import StoreLocation


@dataclass(frozen=True)
class Figures:
    """What the checked database holds, for the test's own asserts and the docs."""

    counters: int
    done_jobs: int
    attempts: int  # failed tries the done jobs absorbed (transient errors)
    daily_rows: int
    monthly_rows: int
    revoked_counters: int
    cancelled_jobs: int
    lost: int = 0  # leases the done jobs lost with a dead worker (taken back, claimed again)


@dataclass(frozen=True)
class _Job:
    id: int
    counter_id: int
    account_id: int
    status: str
    attempts: int
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    lease_owner: str | None
    lease_expires_at: float | None


async def check_invariants(
    db: Path | StoreLocation,
    world: World,
    *,
    passes: int = 1,
    revoked: Iterable[str] = (),
    backfill_days: int,
    lookback_days: int = 3,
) -> Figures:
    """Assert every invariant above; returns the figures. `revoked`: tokens that died."""
    store = await Store.open(db)
    try:
        return await _check(store, world, passes, set(revoked), backfill_days, lookback_days)
    finally:
        await store.close()


def check_invariants_now(db: Path | StoreLocation, world: World, **options) -> Figures:
    """`check_invariants` from synchronous code (tests that drive processes)."""
    return asyncio.run(check_invariants(db, world, **options))


async def _check_runs(store: Store) -> None:
    """Every sync run is written whole: finished with its last job, its figures its jobs'."""
    runs = await store.db.fetchall(
        "SELECT r.id, r.queued, r.finished_at, r.synced, r.failed, COUNT(DISTINCT j.counter_id), MAX(j.finished_at),"
        " COALESCE(SUM(CASE WHEN j.status = 'done' THEN 1 ELSE 0 END), 0),"
        " COALESCE(SUM(CASE WHEN j.status = 'failed' THEN 1 ELSE 0 END), 0)"
        " FROM sync_runs r LEFT JOIN jobs j ON j.run_id = r.id GROUP BY r.id"
    )
    for run_id, queued, finished, synced, failed, jobs, last, done, fails in runs:
        # (a counter whose account was revoked mid-pass is queued again in the same run, through
        # another account that sees it: one counter, two jobs)
        assert jobs == queued, f"sync run {run_id}: queued {queued} counters, has jobs of {jobs}"
        assert finished is not None and (synced, failed) == (done, fails), f"sync run {run_id} not whole"
        assert finished == (last if jobs else finished), f"sync run {run_id} finished at {finished}, not {last}"


async def _check(store: Store, world: World, passes: int, revoked: set[str], backfill: int, lookback: int) -> Figures:
    if not store.is_postgres:
        assert await store.db.fetchone("PRAGMA integrity_check") == ("ok",)
        assert await store.db.fetchall("PRAGMA foreign_key_check") == []

    accounts = {a.token.reveal(): a for a in await store.accounts()}
    assert sorted(accounts) == sorted(world.tokens), "an account is missing or unknown"
    dead = {token for token, a in accounts.items() if a.revoked}
    assert dead == revoked, f"revoked: {sorted(a.login for t, a in accounts.items() if t in dead)}"

    jobs = [
        _Job(r[0], r[1], r[2], r[3], r[4], from_ts(r[5]), from_ts(r[6]), r[7], r[8])
        for r in await store.db.fetchall(
            "SELECT id, counter_id, account_id, status, attempts, started_at, finished_at, lease_owner,"
            " lease_expires_at FROM jobs ORDER BY id"
        )
    ]
    stranded = [j for j in jobs if j.status in ("queued", "running") or j.lease_owner or j.lease_expires_at]
    assert not stranded, f"jobs left live or leased: {stranded}"

    by_counter: dict[int, list[_Job]] = {}
    for job in jobs:
        by_counter.setdefault(job.counter_id, []).append(job)
    rows = await store.counter_rows()
    assert sorted(r.id for r in rows) == sorted(c for a in world.accounts for c in a.counter_ids)
    daily_rows = monthly_rows = revoked_counters = 0
    for row in rows:
        mine = by_counter.get(row.id, [])
        done = [j for j in mine if j.status == "done"]
        assert all(j.account_id == row.account_id for j in mine), (row.id, mine)
        if row.account_revoked:
            revoked_counters += 1
            assert len(done) <= passes and all(j.status in ("done", "cancelled") for j in mine), (row.id, mine)
        elif row.active:
            statuses = Counter(j.status for j in mine)
            assert statuses == Counter(done=passes), f"counter {row.id}: jobs {dict(statuses)}, want {passes} done"
            assert [j.status for j in await store.job_history(row.id, 100)] == [JobStatus.DONE] * passes
            assert row.last_error is None and row.last_fetched_at == done[-1].finished_at
        else:
            assert not mine, (row.id, mine)
        daily_rows += await _check_figures(store, world, row.id, done, backfill, lookback)
        monthly_rows += len(await store.monthly_stats(row.id))
    counts = await store.table_counts()
    assert counts["daily_stats"] == daily_rows and counts["monthly_stats"] == monthly_rows
    await _check_runs(store)
    return Figures(
        counters=len(rows),
        done_jobs=sum(j.status == "done" for j in jobs),
        attempts=sum(j.attempts for j in jobs if j.status == "done"),
        lost=(await store.db.fetchone("SELECT COALESCE(SUM(lost), 0) FROM jobs WHERE status = 'done'"))[0],
        daily_rows=daily_rows,
        monthly_rows=monthly_rows,
        revoked_counters=revoked_counters,
        cancelled_jobs=sum(j.status == "cancelled" for j in jobs),
    )


@dataclass(frozen=True)
class _Want:
    """What the world says one stored day should be, as the done job that last read it saw it."""

    low: DailyStat  # the world when that job started (the same as `high` for a finished day)
    high: DailyStat  # ... and when it finished
    started: dt.datetime
    written_at: dt.datetime  # that job's finished_at: the rows' fetched_at
    today: dt.date  # the counter's today for that job


def _wanted_days(world: World, counter_id: int, done: list[_Job], backfill: int, lookback: int) -> dict[dt.date, _Want]:
    """Each day some done job read, by the last job that read it (windows as in job.fetch_window)."""
    wanted: dict[dt.date, _Want] = {}
    newest: dt.date | None = None
    for job in sorted(done, key=lambda j: j.finished_at):
        start, end = job.started_at, job.finished_at
        today = world.local_now(counter_id, start).date()
        first = (
            today - dt.timedelta(days=backfill - 1)
            if newest is None
            else min(newest, today) - dt.timedelta(days=lookback)
        )
        day = month_start(first)
        while day <= today:
            wanted[day] = _Want(
                world.daily(counter_id, day, start), world.daily(counter_id, day, end), start, end, today
            )
            day += dt.timedelta(days=1)
        newest = max(newest or today, today)
    return wanted


async def _check_figures(
    store: Store, world: World, counter_id: int, done: list[_Job], backfill: int, lookback: int
) -> int:
    """Daily rows equal the world's; monthly rows add up their days. Returns the daily rows."""
    wanted = _wanted_days(world, counter_id, done, backfill, lookback)
    stored = await store.daily_stats(counter_id)
    written = dict(
        await store.db.fetchall("SELECT date, fetched_at FROM daily_stats WHERE counter_id = ?", (counter_id,))
    )
    must = {day for day, w in wanted.items() if w.low.visits}
    may = {day for day, w in wanted.items() if w.high.visits}
    days = {d.date for d in stored}
    assert must <= days <= may, f"counter {counter_id}: missing {sorted(must - days)}, extra {sorted(days - may)}"
    for got in stored:
        want = wanted[got.date]
        assert from_ts(written[got.date.isoformat()]) == want.written_at, (counter_id, got.date, "written by whom?")
        for name in ("visits", "users", "pageviews"):
            _between(
                getattr(got, name), getattr(want.low, name), getattr(want.high, name), (counter_id, got.date, name)
            )
        assert got.bounce_rate == pytest.approx(want.high.bounce_rate, abs=1e-6), (counter_id, got.date)
        assert got.avg_visit_duration == pytest.approx(want.high.avg_visit_duration, abs=1e-6), (counter_id, got.date)

    monthly = {m.month: m for m in await store.monthly_stats(counter_id)}
    assert sorted(monthly) == sorted({month_start(d.date) for d in stored}), counter_id
    for month, got in monthly.items():
        in_month = [d for d in stored if month_start(d.date) == month]
        visits = sum(d.visits for d in in_month)
        assert (got.visits, got.pageviews, got.days) == (visits, sum(d.pageviews for d in in_month), len(in_month))
        assert got.bounce_rate == pytest.approx(sum(d.bounce_rate * d.visits for d in in_month) / visits, abs=1e-6)
        # users at month grain, from the job that read the month last (windows start on the 1st)
        last = max(day for day in wanted if month_start(day) == month)
        want = wanted[last]
        if last < want.today:  # the month was over for that job
            assert got.users == world.month_users(counter_id, month, want.written_at), (counter_id, month)
        else:  # the month so far: it grew while the job ran
            low, high = (world.period_users(counter_id, month, last, t) for t in (want.started, want.written_at))
            _between(got.users, min(low, high), max(low, high), (counter_id, month, "users"))
    return len(stored)


def _between(value: float, low: float, high: float, where: tuple) -> None:
    assert low <= value <= high, (*where, f"{value} not in [{low}, {high}]")
