"""A throwaway PostgreSQL server for the tests: `initdb` + `pg_ctl` into a temporary folder,
on a free loopback port, stopped and removed at the end of the session.

The binaries are found on PATH or under /usr/lib/postgresql/*/bin (the newest). PostgreSQL
refuses to run as root, so as root the server runs as an unprivileged user (`postgres` when
the distribution made one, else `metrika-pg`, created if missing) through `runuser`.

Tests connect over TCP as the role `metrika` with a password (scram-sha-256), as a real
deployment would; each gets a fresh database copied from a migrated template
(`CREATE DATABASE ... TEMPLATE`), which takes milliseconds, not a migration's seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from metrika_tui.store_location import StoreLocation

ROLE = "metrika"
PASSWORD = "metrika-test-pw"
TEMPLATE = "metrika_template"
FALLBACK_USER = "metrika-pg"
#: settings for a server whose data may be lost: nothing waits for the disk
FAST = ("fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=200")


class PgUnavailable(Exception):
    """No PostgreSQL server binaries on this machine (the reason a test is skipped)."""


def find_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, else the newest /usr/lib/postgresql/*/bin."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(os.path.realpath(on_path)).parent
    found = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()]
    found.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return found[-1] if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_user() -> str | None:
    """Who runs the server: None (this user) unless root, who may not."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", FALLBACK_USER):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", FALLBACK_USER],
        check=True,
        capture_output=True,
    )
    return FALLBACK_USER


class PgServer:
    """A running server; `database()` makes a fresh database and gives its location."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.user = _server_user()
        self.root = Path(tempfile.mkdtemp(prefix="metrika-pg-"))  # /tmp: traversable by the server's user
        self.data = self.root / "data"
        self.port = 0
        self._names = itertools.count(1)
        self._template = False  # made and migrated on first use

    # -- the server ----------------------------------------------------------------------
    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        env = {**os.environ, "LC_ALL": "C", "PGPASSWORD": ""}
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
        return proc

    def start(self) -> PgServer:
        if self.user is not None:
            shutil.chown(self.root, self.user)
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self.user is not None:
            shutil.chown(pwfile, self.user)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            ROLE,
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        pwfile.unlink()
        for attempt in range(3):  # a free port may be taken between looking and listening
            self.port = _free_port()
            options = " ".join(
                [f"-p {self.port}", f"-k {self.root}", "-c listen_addresses=127.0.0.1", *(f"-c {o}" for o in FAST)]
            )
            proc = self._run(
                "pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", options, "-w", "start", check=False
            )
            if proc.returncode == 0:
                break
            if attempt == 2:
                log = (self.root / "log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"pg_ctl start failed: {proc.stderr.strip()}\n{log}")
        return self

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    # -- databases -----------------------------------------------------------------------
    def url(self, database: str) -> str:
        return f"postgresql://{ROLE}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def location(self, database: str) -> StoreLocation:
        return StoreLocation.parse(self.url(database))

    def _admin(self, *statements: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def database(self, *, empty: bool = False) -> StoreLocation:
        """A fresh database: the schema in place (a copy of the template), or `empty`."""
        if not empty and not self._template:
            self._admin(f"CREATE DATABASE {TEMPLATE}")
            with ThreadPoolExecutor(1) as thread:  # its own event loop: a caller may be inside one
                thread.submit(asyncio.run, _migrate(self.location(TEMPLATE))).result()
            self._template = True
        name = f"t{os.getpid()}_{next(self._names)}"
        self._admin(f"CREATE DATABASE {name}" + ("" if empty else f" TEMPLATE {TEMPLATE}"))
        return self.location(name)

    def drop(self, location: StoreLocation) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{location.database}" WITH (FORCE)')


async def _migrate(location: StoreLocation) -> None:
    from metrika_tui.store import Store

    store = await Store.open(location)
    await store.close()


@contextlib.contextmanager
def pg_server() -> Iterator[PgServer]:
    """A server for the session; PgUnavailable when this machine has no PostgreSQL."""
    bin_dir = find_binaries()
    if bin_dir is None:
        raise PgUnavailable("no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin")
    server = PgServer(bin_dir)
    try:
        yield server.start()
    finally:
        server.stop()
