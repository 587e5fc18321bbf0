"""The real command on PostgreSQL (`METRIKA_DB=postgresql://...`): accounts, counters, a
sync pass, its status, health and paths, the URL's password never shown."""

from __future__ import annotations

import pytest
from pg_server import PASSWORD


@pytest.fixture
def pg_cli(cli, pg_database):
    """The `cli` fixture, its database a fresh PostgreSQL one given by METRIKA_DB."""
    cli.env["METRIKA_DB"] = pg_database.url
    return cli


def shown(proc) -> str:
    assert PASSWORD not in proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.slow
def test_accounts_counters_a_sync_and_its_status_on_postgres(pg_cli, pg_database):
    total = sum(len(pg_cli.world.counters_of(t)) for t in pg_cli.world.tokens)
    for token in pg_cli.world.tokens:
        shown(pg_cli.run("accounts", "add", stdin=token + "\n", check_code=0))
    assert len(pg_cli.json("accounts", "list", "--json")) == len(pg_cli.world.tokens)
    counters = pg_cli.json("counters", "list", "--json")
    assert len(counters) == total
    shown(pg_cli.run("counters", "disable", str(counters[0]["counter_id"]), check_code=0))

    synced = shown(pg_cli.run("sync", check_code=0))
    assert f"Queued: {total - 1}" in synced and "Failed: 0" in synced
    status = pg_cli.json("sync-status", "--json")
    states = sorted(c["state"] for a in status["accounts"] for c in a["counters"])
    assert states == ["disabled"] + ["ok"] * (total - 1)
    again = shown(pg_cli.run("sync", check_code=0))
    assert "Queued: 0" in again

    paths = shown(pg_cli.run("paths", check_code=0))
    assert f"{pg_database.masked()} (PostgreSQL)" in paths and ":***@" in paths
    health = pg_cli.run("health", "--json")
    assert PASSWORD not in health.stdout and '"opened": true' in health.stdout


def test_a_server_that_refuses_is_said_plainly_exit_1_no_traceback(pg_cli, pg_database):
    pg_cli.env["METRIKA_DB"] = pg_database.url.replace(PASSWORD, "not-the-password")
    proc = pg_cli.run("accounts", "list")
    assert proc.returncode == 1, proc.stderr
    assert "refused the user or password" in proc.stderr
    assert "not-the-password" not in proc.stderr and PASSWORD not in proc.stderr


def test_a_password_in_the_db_flag_is_refused_naming_the_safe_places(pg_cli, pg_database):
    proc = pg_cli.run("--db", pg_database.url, "accounts", "list")
    assert proc.returncode == 2
    assert "METRIKA_DB" in proc.stderr and "config file" in proc.stderr and PASSWORD not in proc.stderr


def test_export_streams_a_postgres_database_like_a_sqlite_file(make_env, pg_database, tmp_path):
    """The same stored days, written through the store into each backend, export alike."""
    import asyncio
    import subprocess
    import sys

    from stored_world import stored

    sqlite_file = tmp_path / "same.db"
    outputs = []
    for location in (pg_database.url, str(sqlite_file)):
        asyncio.run(stored(location, {"alpha": [101, 102], "beta": [201]}, days=40, sampled=frozenset({102})))
        env = {**make_env("http://127.0.0.1:9"), "METRIKA_DB": location}
        proc = subprocess.run(
            [sys.executable, "-m", "metrika_tui", "export", "daily", "--format", "jsonl"],
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1] and outputs[0].count("\n") == 120
