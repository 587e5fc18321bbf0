"""The database file: an older schema is migrated with its data kept, a newer one and a file that
is not a database are refused in plain words, and a new file (and its WAL) is the owner's only."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import sqlite3
import stat

import pytest

from metrika_tui.simulator import World
from metrika_tui.store import Store, StoreError, db, schema
from metrika_tui.tokens import Token

from .helpers import add_accounts, assert_store_matches_world, rig


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


#: what each migration added, undone: an older release's file is this release's file with the
#: newer migrations taken back (an older release's code cannot run on today's code base)
UNDO = {
    2: "DROP INDEX jobs_finished",
    3: "DROP INDEX accounts_by_uid; " + "; ".join(
        f"ALTER TABLE accounts DROP COLUMN {c}"
        for c in ("uid", "refresh_token", "token_expires_at", "login_needed", "refresh_lease_until")),
}


def downgrade(path, to_version: int) -> None:
    with sqlite3.connect(path) as conn:
        for number in range(schema.SCHEMA_VERSION, to_version, -1):
            conn.executescript(UNDO[number])
        conn.execute(f"PRAGMA user_version = {to_version}")


def test_every_migration_can_be_undone_for_the_test_below():
    assert set(UNDO) == set(range(2, schema.SCHEMA_VERSION + 1))


@pytest.mark.parametrize("old_version", range(1, schema.SCHEMA_VERSION))
async def test_a_database_of_an_older_schema_is_migrated_and_keeps_its_data(tmp_path, old_version):
    world = World.generate(seed=39, accounts=2, counters_per_account=2)
    async with rig(tmp_path, world) as r:
        old = await r.engine()  # the data an older release wrote: its columns only
        await add_accounts(old, world)
        await old.plan()
        assert all(o.ok for o in await old.run_until_idle())
        await old.recorder.flush()
        before = await contents(old.store)
        await r.close()
        r.engines.clear()
        downgrade(r.db, old_version)
        if old_version < 3:  # what migration 3 added was not there to keep
            before["accounts"] = [dataclasses.replace(a, uid=None, refresh_token=None, token_expires_at=None,
                                                      login_needed=None) for a in before["accounts"]]  # fmt: skip
        assert user_version(r.db) == old_version

        new = await r.engine()  # this release opens it

        assert user_version(r.db) == schema.SCHEMA_VERSION
        assert await contents(new.store) == before
        with sqlite3.connect(r.db) as conn:
            indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "jobs_finished" in indexes  # migration 2
        forced = await new.plan(force=True)  # and it works on
        assert len(forced.queued) == 4 and all(o.ok for o in await new.run_until_idle())
        for counter in before["counters"]:
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
            await store.add_account(user_id="u", login="l", token=Token("y0_secret_token_1234"),
                                    now=dt.datetime.now(dt.UTC))  # fmt: skip
            files = sorted(p.name for p in path.parent.iterdir())
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()}
        finally:
            await store.close()
    finally:
        os.umask(previous)
    assert "m.db-wal" in files  # WAL mode: the token went to the log first
    assert modes == dict.fromkeys(files, 0o600), modes
