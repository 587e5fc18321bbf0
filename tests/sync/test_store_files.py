"""The database file: an older schema is migrated with its data kept, a newer one and a file that
is not a database are refused in plain words, and a new file (and its WAL) is the owner's only."""

from __future__ import annotations

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


async def as_older_schema(path, old_version: int, monkeypatch) -> None:
    """Turn the database at `path` into the file an older metrika-tui would have written: the
    schema of its migrations, holding the same rows in the columns it knew."""
    older = path.with_name("older.db")
    with monkeypatch.context() as old_release:
        old_release.setattr(db, "MIGRATIONS", schema.MIGRATIONS[:old_version])
        old_release.setattr(db, "SCHEMA_VERSION", old_version)
        await (await Store.open(older)).close()
    with sqlite3.connect(older) as conn:
        conn.execute("ATTACH ? AS current", (str(path),))
        tables = [r[0] for r in conn.execute("SELECT name FROM main.sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = ", ".join(r[1] for r in conn.execute(f"PRAGMA main.table_info({table})"))
            conn.execute(f"INSERT INTO main.{table} ({columns}) SELECT {columns} FROM current.{table}")
    conn.close()
    for leftover in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    os.replace(older, path)


@pytest.mark.parametrize("old_version", range(1, schema.SCHEMA_VERSION))
async def test_a_database_of_an_older_schema_is_migrated_and_keeps_its_data(tmp_path, monkeypatch, old_version):
    world = World.generate(seed=39, accounts=2, counters_per_account=2)
    async with rig(tmp_path, world) as r:
        synced = await r.engine()
        await add_accounts(synced, world)
        await synced.plan()
        assert all(o.ok for o in await synced.run_until_idle())
        await synced.recorder.flush()
        before = await contents(synced.store)
        await r.close()
        r.engines.clear()
        await as_older_schema(r.db, old_version, monkeypatch)  # an older metrika-tui wrote the file
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
