"""`metrika-tui db copy SOURCE DEST`, the real command: a synced store moves whole (what the
other commands show of it is the same), only counts are printed, and bad input is refused
with a clear message."""

from __future__ import annotations

import asyncio
import json

import pytest
from pg_server import PASSWORD
from stored_world import stored


@pytest.mark.slow
def test_a_synced_store_moves_whole_and_nothing_secret_is_printed(cli, tmp_path):
    cli.add_all_accounts()
    cli.run("sync", check_code=0)
    dest = tmp_path / "moved" / "metrika.db"
    copied = cli.run("db", "copy", str(cli.db), str(dest), check_code=0)
    assert f"copied {cli.db} (SQLite) into {dest} (SQLite):" in copied.stdout
    rows = {name: int(n.replace(",", "")) for name, n in (line.split() for line in copied.stdout.splitlines()[1:])}
    assert rows["counters"] == sum(len(a.counter_ids) for a in cli.world.accounts)
    assert rows["accounts"] == len(cli.world.tokens) and rows["daily_stats"] > rows["counters"]
    for token in cli.world.tokens:
        assert token not in copied.stdout + copied.stderr and token[:8] not in copied.stdout
    there = {"METRIKA_DB": str(dest)}
    for command in (("accounts", "list", "--json"), ("counters", "list", "--json"), ("export", "daily")):
        assert cli.run(*command, check_code=0).stdout == cli.run(*command, check_code=0, extra_env=there).stdout
    here, moved = (
        cli.json("sync-status", "--json"),
        json.loads(cli.run("sync-status", "--json", extra_env=there).stdout),
    )
    assert moved["accounts"] == here["accounts"]  # every counter's state, last fetch and next due; each login's use
    assert {k: v for k, v in moved["summary"].items() if k != "freshness"} == {
        k: v for k, v in here["summary"].items() if k != "freshness"
    }
    again = cli.run("sync", extra_env=there, check_code=0).stdout  # and it carries on from there
    assert "recently synced, skipping" in again and "queued for sync" not in again


def test_a_destination_with_data_is_refused_and_replaced_when_asked(cli, tmp_path):
    source, dest = tmp_path / "a.db", tmp_path / "b.db"
    asyncio.run(stored(source, {"alpha": [101, 102]}, days=5))
    asyncio.run(stored(dest, {"beta": [201]}, days=2))
    refused = cli.run("db", "copy", str(source), str(dest))
    assert refused.returncode == 1
    assert "already holds data (accounts, counters" in refused.stderr and "add --replace" in refused.stderr
    assert "nothing was copied" in refused.stderr
    replaced = cli.run("db", "copy", str(source), str(dest), "--replace", check_code=0)
    assert "daily_stats" in replaced.stdout
    listed = cli.run("counters", "list", "--json", extra_env={"METRIKA_DB": str(dest)}, check_code=0).stdout
    assert '"counter_id": 101' in listed and '"counter_id": 201' not in listed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("missing.db", "b.db"), "SOURCE {tmp}/missing.db: no such database file"),
        (("a.db", "a.db"), "SOURCE and DEST are the same database"),
        ((), "the following arguments are required: SOURCE"),
    ],
)
def test_bad_input_is_refused_with_exit_2(cli, tmp_path, args, message):
    asyncio.run(stored(tmp_path / "a.db", {"alpha": [101]}, days=1))
    done = cli.run("db", "copy", *(str(tmp_path / a) for a in args))
    assert done.returncode == 2 and message.format(tmp=tmp_path) in done.stderr, done.stderr
    assert not (tmp_path / "b.db").exists()


def test_dest_is_the_configured_database_by_default(cli, tmp_path):
    asyncio.run(stored(tmp_path / "old.db", {"alpha": [101, 102]}, days=3))
    copied = cli.run("db", "copy", str(tmp_path / "old.db"), check_code=0)
    assert f"into {cli.db} (SQLite):" in copied.stdout
    assert [c["counter_id"] for c in cli.json("counters", "list", "--json")] == [101, 102]


@pytest.mark.slow
def test_sqlite_into_the_configured_postgresql_and_back_the_password_never_in_argv(cli, pg_database, tmp_path):
    asyncio.run(stored(tmp_path / "old.db", {"alpha": [101, 102], "beta": [201]}, days=20))
    on_pg = {"METRIKA_DB": pg_database.url}
    into = cli.run("db", "copy", str(tmp_path / "old.db"), extra_env=on_pg, check_code=0)
    assert f"into {pg_database.masked()} (PostgreSQL):" in into.stdout and PASSWORD not in into.stdout
    exported = cli.run("export", "daily", extra_env=on_pg, check_code=0).stdout
    assert exported == cli.run("export", "daily", extra_env={"METRIKA_DB": str(tmp_path / "old.db")}).stdout
    assert len(exported.splitlines()) == 1 + 3 * 20
    # back out, the URL without its password (libpq takes it from PGPASSWORD)
    bare = pg_database.url.replace(f":{PASSWORD}@", "@")
    out = cli.run("db", "copy", bare, str(tmp_path / "back.db"), extra_env={"PGPASSWORD": PASSWORD}, check_code=0)
    assert "(PostgreSQL) into" in out.stdout
    assert cli.run("export", "daily", extra_env={"METRIKA_DB": str(tmp_path / "back.db")}).stdout == exported


def test_a_password_in_a_command_line_url_is_refused(cli, pg_database, tmp_path):
    done = cli.run("db", "copy", pg_database.url, str(tmp_path / "b.db"))
    assert done.returncode == 2 and "a password on the command line" in done.stderr
    assert PASSWORD not in done.stdout + done.stderr and not (tmp_path / "b.db").exists()
