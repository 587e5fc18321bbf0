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


#: what undoes each migration: a file written by the release before it (later releases write
#: columns an older schema lacks, so an older release is emulated by undoing, not by running)
UNDO = {
    2: ["DROP INDEX jobs_finished"],
    3: ["ALTER TABLE daily_stats DROP COLUMN sampled", "ALTER TABLE monthly_stats DROP COLUMN sampled"],
}


def downgrade(path, version: int) -> None:
    """Make the file what the release of schema `version` would have left."""
    with sqlite3.connect(path) as conn:
        for number in range(schema.SCHEMA_VERSION, version, -1):
            for statement in UNDO[number]:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {version}")


def test_every_migration_can_be_undone_for_the_test_below():
    assert sorted(UNDO) == list(range(2, schema.SCHEMA_VERSION + 1))


@pytest.mark.parametrize("old_version", range(1, schema.SCHEMA_VERSION))
async def test_a_database_of_an_older_schema_is_migrated_and_keeps_its_data(tmp_path, old_version):
    world = World.generate(seed=39, accounts=2, counters_per_account=2)
    async with rig(tmp_path, world) as r:
        old = await r.engine()
        await add_accounts(old, world)
        await old.plan()
        assert all(o.ok for o in await old.run_until_idle())
        await old.recorder.flush()
        before = await contents(old.store)
        await r.close()
        r.engines.clear()
        downgrade(r.db, old_version)  # an older metrika-tui wrote the file
        assert user_version(r.db) == old_version

        new = await r.engine()  # this release opens it

        assert user_version(r.db) == schema.SCHEMA_VERSION
        assert await contents(new.store) == before
        with sqlite3.connect(r.db) as conn:
            indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
            sampled = [conn.execute(f"SELECT COUNT(*) FROM {t} WHERE sampled = 0").fetchone()[0]
                       for t in ("daily_stats", "monthly_stats")]  # fmt: skip
        assert "jobs_finished" in indexes  # migration 2
        assert sampled[0] == sum(len(d) for d in before["daily"].values()) > 0  # migration 3: not sampled
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
