"""The database file: an older schema is migrated with its data kept, a newer one and a file that
is not a database are refused in plain words, and a new file (and its WAL) is the owner's only."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat

import pytest

from metrika_tui.simulator import World
from metrika_tui.store import Store, StoreError, schema
from metrika_tui.store.store import QUOTA_LOGIN
from metrika_tui.tokens import Token

from .helpers import assert_store_matches_world, rig

pytestmark = pytest.mark.sqlite_only  # the files, their permissions and their migrations


def user_version(path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]


async def contents(store: Store) -> dict:
    counters = await store.counter_rows()
    return {
        "accounts": await store.accounts(),
        "counters": counters,
        "daily": {c.id: await store.daily_stats(c.id) for c in counters},
        "monthly": {c.id: await store.monthly_stats(c.id) for c in counters},
        "jobs": {c.id: await store.job_history(c.id) for c in counters},
        "events": await store.events_since(None),
    }


def write_old_release_file(path, old_version: int, world: World, now: dt.datetime) -> None:
    """A database as an older metrika-tui left it: its schema only, written by its SQL (an
    account per token, their counters, one synced with a finished job, its rows and an event)."""
    conn = sqlite3.connect(path)
    for number, migration in enumerate(schema.MIGRATIONS[:old_version], 1):
        conn.executescript(migration)
        conn.execute(f"PRAGMA user_version = {number}")
    ts = now.timestamp()
    for i, account in enumerate(world.accounts, 1):
        conn.execute(
            "INSERT INTO accounts (id, user_id, login, token, created_at) VALUES (?, ?, ?, ?, ?)",
            (i, account.login, account.login, account.token, ts),
        )
        for cid in account.counter_ids:
            c = world.counter(cid)
            conn.execute(
                "INSERT INTO counters (id, account_id, name, site, time_zone, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (cid, i, c.name, c.site, c.time_zone, ts),
            )
    synced = world.accounts[0].counter_ids[0]
    conn.execute(
        "UPDATE counters SET last_fetched_at = ?, last_fetched_day = ? WHERE id = ?", (ts - 7200, "2026-03-10", synced)
    )
    conn.execute(
        "INSERT INTO jobs (counter_id, account_id, status, run_after, trigger, created_at, started_at,"
        " finished_at, rows) VALUES (?, 1, 'done', ?, 'schedule', ?, ?, ?, 1)",
        (synced, ts - 7300, ts - 7300, ts - 7250, ts - 7200),
    )
    conn.execute(
        "INSERT INTO daily_stats (counter_id, date, visits, users, pageviews, bounce_rate, avg_visit_duration,"
        " fetched_at) VALUES (?, '2026-03-09', 10, 8, 30, 25.0, 60.0, ?)",
        (synced, ts - 7200),
    )
    conn.execute(
        "INSERT INTO monthly_stats (counter_id, month, visits, users, pageviews, bounce_rate,"
        " avg_visit_duration, days, updated_at) VALUES (?, '2026-03-01', 10, 8, 30, 25.0, 60.0, 1, ?)",
        (synced, ts - 7200),
    )  # the columns named: a later release adds more
    conn.execute(
        "INSERT INTO events (ts, kind, level, message, origin) VALUES (?, 'info', 'info', 'old', 'old:1')", (ts,)
    )
    if old_version >= 3:  # what release 3 wrote of its own accord
        conn.execute(f"UPDATE accounts SET quota_login = {QUOTA_LOGIN}")
        conn.execute(
            "UPDATE jobs SET login = (SELECT quota_login FROM accounts a WHERE a.id = jobs.account_id),"
            " planned_for = created_at"
        )
        conn.execute("UPDATE counters SET synced_for = last_fetched_at")
    if old_version >= 5:  # release 5 marked sampled days (not yet their months)
        conn.execute("UPDATE daily_stats SET sampled = 1")
    if old_version >= 6:  # release 6 marked their months too
        conn.execute("UPDATE monthly_stats SET sampled = 1")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("old_version", range(1, schema.SCHEMA_VERSION))
async def test_a_database_of_an_older_schema_is_migrated_and_keeps_its_data(tmp_path, old_version):
    world = World.generate(seed=39, accounts=2, counters_per_account=2)
    async with rig(tmp_path, world) as r:
        write_old_release_file(r.db.path, old_version, world, r.clock.now())

        new = await r.engine()  # this release opens it

        assert user_version(r.db.path) == schema.SCHEMA_VERSION
        got = await contents(new.store)
        assert [a.token.reveal() for a in got["accounts"]] == world.tokens
        assert [a.quota_login for a in got["accounts"]] == [a.login for a in world.accounts]  # migration 3
        synced = world.accounts[0].counter_ids[0]
        row = next(c for c in got["counters"] if c.id == synced)
        assert row.last_fetched_at == row.synced_for == r.clock.now() - dt.timedelta(hours=2)
        assert [(d.visits, d.users) for d in got["daily"][synced]] == [(10, 8)]
        assert [m.users for m in got["monthly"][synced]] == [8]
        assert [j.status for j in got["jobs"][synced]] == ["done"]
        assert [e.message for e in got["events"]] == ["old"]
        with sqlite3.connect(r.db.path) as conn:
            indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
            sampled = [conn.execute(f"SELECT sampled FROM {t}").fetchall() for t in ("daily_stats", "monthly_stats")]
        assert {"jobs_finished", "jobs_running_by_login", "accounts_by_uid"} <= indexes  # migrations 2, 3, 4
        assert all(
            a.uid is None and a.refresh_token is None and a.token_expires_at is None for a in got["accounts"]
        )  # migration 4: nothing known yet (token_care asks)
        was = int(old_version >= 5)  # migration 5: older days were not sampled; 6: a month is if a day is
        assert sampled == [[(was,)], [(was,)]]
        forced = await new.plan(force=True)  # and it works on
        assert len(forced.queued) == 4 and all(o.ok for o in await new.run_until_idle())
        for counter in got["counters"]:
            if counter.id != synced:  # (the old file's one synced counter holds made-up rows)
                await assert_store_matches_world(new.store, world, counter.id, r.clock.now())


async def test_a_database_of_a_newer_schema_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "m.db"
    store = await Store.open(path)
    await store.close()
    newer = schema.SCHEMA_VERSION + 1
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {newer}")
    before = path.read_bytes()

    with pytest.raises(StoreError) as refused:
        await Store.open(path)

    message = str(refused.value)
    assert str(path) in message and "newer metrika-tui" in message
    assert f"schema {newer}" in message and f"knows {schema.SCHEMA_VERSION}" in message and "upgrade" in message
    assert path.read_bytes() == before


@pytest.mark.parametrize("content", [b"SQLite format 2\x00" + b"\x01" * 4000, b"not a database at all\n" * 300])
async def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path, content):
    path = tmp_path / "notes.db"
    path.write_bytes(content)

    with pytest.raises(StoreError) as refused:
        await Store.open(path)

    assert str(refused.value) == f"{path} is not a metrika-tui database (or it is damaged)"
    assert path.read_bytes() == content


async def test_a_new_database_and_its_wal_are_readable_by_the_owner_only(tmp_path):
    path = tmp_path / "sub" / "m.db"
    previous = os.umask(0)  # even a careless umask must not widen it: the file holds tokens
    try:
        store = await Store.open(path)
        try:
            await store.add_account(
                user_id="u", login="l", token=Token("y0_secret_token_1234"), now=dt.datetime.now(dt.UTC)
            )
            files = sorted(p.name for p in path.parent.iterdir())
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()}
        finally:
            await store.close()
    finally:
        os.umask(previous)
    assert "m.db-wal" in files  # WAL mode: the token went to the log first
    assert modes == dict.fromkeys(files, 0o600), modes
