"""Shared fixtures: the real `metrika-tui` command as a subprocess against a simulator on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from pg_server import PgServer, PgUnavailable, find_binaries

from metrika_tui.simulator import Simulator, SimulatorConfig, World
from metrika_tui.store_location import StoreLocation


@dataclass
class Cli:
    env: dict[str, str]
    db: Path
    world: World
    sim: Simulator

    def run(
        self,
        *args: str,
        stdin: str | None = None,
        check_code: int | None = None,
        timeout: float = 90,
        extra_env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess:
        env = {**self.env, **(extra_env or {})}
        proc = subprocess.run(
            [sys.executable, "-m", "metrika_tui", *args],
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
        if check_code is not None:
            assert proc.returncode == check_code, (proc.returncode, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    def json(self, *args: str) -> dict | list:
        return json.loads(self.run(*args, check_code=0).stdout)

    def add_all_accounts(self) -> None:
        for token in self.world.tokens:
            self.run("accounts", "add", stdin=token + "\n", check_code=0)


def cli_env(tmp_path: Path, base_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("METRIKA_", "APP_"))}
    env.update(
        METRIKA_API_URL=base_url,
        METRIKA_OAUTH_URL=base_url,  # the simulator stands in for Yandex ID too
        METRIKA_LOGIN_URL=base_url,
        METRIKA_DB=str(tmp_path / "metrika.db"),
        METRIKA_DATA_DIR=str(tmp_path / "data"),
        METRIKA_CONFIG=str(tmp_path / "config.toml"),
        METRIKA_CACHE_DIR=str(tmp_path / "cache"),  # the shared request pace of this test's processes
        METRIKA_WORKERS="4",
        NO_COLOR="1",
    )
    return env


@pytest.fixture(autouse=True)
def private_data_dir(tmp_path, monkeypatch):
    """Files a test's own process keeps (the login's device id) go to its tmp_path, never
    to the user's data directory."""
    monkeypatch.setenv("METRIKA_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def sim_world():
    return World.generate(seed=11, accounts=3, counters_per_account=3)


@pytest.fixture
def cli(tmp_path, sim_world):
    sim = Simulator(sim_world, SimulatorConfig())
    with sim.serve_in_thread(host="127.0.0.1", port=0) as base_url:
        yield Cli(env=cli_env(tmp_path, base_url), db=tmp_path / "metrika.db", world=sim_world, sim=sim)


@pytest.fixture
def make_env(tmp_path):
    """`make_env(base_url)`: the environment for a subprocess on a fresh database in tmp_path."""
    return lambda base_url: cli_env(tmp_path, base_url)


@pytest.fixture(scope="session")
def pg_server():
    """One throwaway PostgreSQL server for the session (tests/pg_server.py). Without the
    binaries a test that needs it is skipped, saying why; under CI=true it fails instead."""
    bin_dir = find_binaries()
    if bin_dir is None:
        reason = str(
            PgUnavailable("no PostgreSQL server binaries (initdb, pg_ctl) on PATH or /usr/lib/postgresql/*/bin")
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)
    server = PgServer(bin_dir).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_database(pg_server):
    """A fresh PostgreSQL database with the schema in place, dropped after the test."""
    location = pg_server.database()
    yield location
    pg_server.drop(location)


@pytest.fixture(params=["sqlite", "postgres"])
def store_backend(request, tmp_path) -> StoreLocation:
    """Where a test's store lives: a SQLite file in tmp_path, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return StoreLocation.file(tmp_path / "metrika.db")
    return request.getfixturevalue("pg_database")
