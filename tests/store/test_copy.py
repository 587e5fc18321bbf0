"""`db copy` on the store's side: every table and column of both schemas is copied, row for row,
in batches, into either backend (`store_backend`) and back; a lease is not (a running job
arrives queued); a destination with data is refused unless replaced, and a failed copy leaves
it as it was."""

from __future__ import annotations

import datetime as dt
from functools import partial
from pathlib import Path

import pytest
from stored_world import NOW, stored

from metrika_tui.engine.planner import PlanMode, choose
from metrika_tui.events import Event, Kind
from metrika_tui.models import DailyStat, MonthUsers
from metrika_tui.settings import Settings
from metrika_tui.store import Store
from metrika_tui.store.copy import NOT_COPIED, TABLES, DestinationNotEmpty, Table, copy_store
from metrika_tui.tokens import Token

ACCOUNTS = {"alpha": [101, 102, 103], "beta": [201, 202]}


async def rows_of(store: Store, table: Table, *, as_copied: bool = False) -> list[tuple]:
    columns = table.select() if as_copied else ", ".join(table.columns)
    return await store.db.fetchall(f"SELECT {columns} FROM {table.name} ORDER BY {', '.join(table.key)}")


@pytest.fixture
async def source(tmp_path: Path):
    """A store as syncs leave it (statistics, jobs, runs, quota use), one more pass queued and
    one of its jobs running, events in the log."""
    db = tmp_path / "source.db"
    await stored(db, ACCOUNTS, days=45)
    store = await Store.open(db)
    await store.add_usage({(Token(f"y0_{0:020d}"), NOW.date().isoformat()): 12})  # the first account's
    await store.append_events([Event(Kind.INFO, f"event {n}", ts=NOW) for n in range(7)])
    later = NOW + dt.timedelta(hours=1)
    assert await store.note_slot(schedule="sync", slot=later.isoformat(), now=later, origin="test:1")
    await store.plan_jobs(
        now=later, choose=partial(choose, settings=Settings(), now=later, moment=later, mode=PlanMode.FITS, force=True)
    )
    done = await store.claim_next_job("host:1:w0", later, 60, 3)
    day = dt.date(2026, 3, 1)
    assert done and await store.record_fetch(
        done,
        now=later,
        daily=[DailyStat(day, 5, 4, 9, 20.0, 61.0)],
        month_users=[MonthUsers(day, 4)],
        raw_pages=[("daily", {"data": [], "note": "a raw answer"})],
        newest_day=day,
    )
    assert await store.claim_next_job("host:1:w1", later, 60, 3)  # left running
    yield store
    await store.close()


def test_every_table_and_column_of_the_schema_is_copied(tmp_path):
    import sqlite3

    from metrika_tui.store.schema import MIGRATIONS

    conn = sqlite3.connect(tmp_path / "schema.db")
    for migration in MIGRATIONS:
        conn.executescript(migration)
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {t.name for t in TABLES}
    for table in TABLES:
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table.name})")]
        assert sorted(columns) == sorted(table.columns), table.name
        primary = [row[1] for row in sorted(conn.execute(f"PRAGMA table_info({table.name})"), key=lambda r: r[5])]
        assert tuple(c for c in primary if c in table.key) == table.key, table.name
    conn.close()


async def test_every_table_and_column_of_the_postgresql_schema_is_copied_or_said_not_to_be(pg_database):
    store = await Store.open(pg_database)
    try:
        found = await store.db.fetchall(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
        )
    finally:
        await store.close()
    columns: dict[str, set[str]] = {}
    for table, column in found:
        columns.setdefault(table, set()).add(column)
    columns.pop("schema_version", None)  # the migrations' own bookkeeping
    assert set(columns) == {t.name for t in TABLES} | NOT_COPIED
    for table in TABLES:
        assert columns[table.name] == set(table.columns), table.name


async def test_a_copy_holds_every_row_of_the_source_in_small_batches(source, store_backend, tmp_path):
    dest = await Store.open(store_backend)
    try:
        batches: list[tuple[str, int]] = []
        report = await copy_store(source, dest, batch=3, on_batch=lambda t, n: batches.append((t, n)))
        for table in TABLES:
            assert await rows_of(dest, table) == await rows_of(source, table, as_copied=True), table.name
        assert report.rows["daily_stats"] == 5 * 45 + 1 and report.rows["events"] == 7
        assert all(report.rows.values()), report.rows  # every table had rows to copy
        assert ("daily_stats", 3) in batches and ("daily_stats", 226) in batches  # 76 batches of a composite key
        assert report.leases_dropped == 1
        jobs = await dest.db.fetchall("SELECT status, lease_owner, owner_pid FROM jobs WHERE status != 'done'")
        assert sorted(jobs) == [("queued", None, None)] * 4  # the running one arrives queued, holder-less
        assert await dest.db.fetchall("SELECT COUNT(*) FROM jobs WHERE status = 'running'") == [(0,)]
        claimed = await dest.claim_next_job("dest:1:w0", NOW + dt.timedelta(hours=1), 60, 3)
        assert claimed is not None and claimed.token.reveal() == (await source.accounts())[0].token.reveal()
        # new rows take ids past the copied ones (PostgreSQL: the sequences were moved on)
        account = await dest.add_account(user_id="gamma", login="gamma", token=Token("y0_" + "7" * 20), now=NOW)
        assert account.id == 3
        back = await Store.open(tmp_path / "back.db")  # and back again: the same rows
        try:
            await copy_store(dest, back, batch=50)
            for table in TABLES:
                assert await rows_of(back, table) == await rows_of(dest, table, as_copied=True), table.name
        finally:
            await back.close()
    finally:
        await dest.close()


async def test_a_destination_with_data_is_refused_unless_replaced(source, store_backend):
    await stored(store_backend, {"gamma": [301]}, days=3)
    dest = await Store.open(store_backend)
    try:
        before = {t.name: await rows_of(dest, t) for t in TABLES}
        with pytest.raises(DestinationNotEmpty, match=r"already holds data \(accounts, counters"):
            await copy_store(source, dest)
        assert {t.name: await rows_of(dest, t) for t in TABLES} == before
        await copy_store(source, dest, replace=True)
        for table in TABLES:
            assert await rows_of(dest, table) == await rows_of(source, table, as_copied=True), table.name
    finally:
        await dest.close()


async def test_a_copy_that_fails_half_way_leaves_the_destination_as_it_was(source, store_backend, monkeypatch):
    await stored(store_backend, {"gamma": [301]}, days=3)
    dest = await Store.open(store_backend)
    try:
        before = {t.name: await rows_of(dest, t) for t in TABLES}
        broken = tuple(
            Table(t.name, t.key, t.columns + ("no_such_column",)) if t.name == "events" else t for t in TABLES
        )
        monkeypatch.setattr("metrika_tui.store.copy.TABLES", broken)
        with pytest.raises(Exception, match="no_such_column"):
            await copy_store(source, dest, replace=True)
        assert {t.name: await rows_of(dest, t) for t in TABLES} == before
    finally:
        await dest.close()
