"""One PostgreSQL connection for a process, with the same face as `db.Database` (SQLite).

psycopg 3 in async mode with client-side binding (`AsyncClientCursor`): the store's SQL
keeps sqlite3's `?` / `:name` placeholders, turned into psycopg's once per statement
(`dialect.to_pyformat`), and values are sent as literals, so `:x IS NULL` needs no type.

- One connection per process, in autocommit: a read is one statement; `transaction()` is
  BEGIN ... COMMIT around the caller's statements. One asyncio lock, as for SQLite: the
  coroutines of a process take turns on it. PostgreSQL itself keeps processes and hosts
  apart (row locks, unique indexes, `FOR UPDATE SKIP LOCKED`).
- Every session has a statement timeout, a lock timeout and an idle-in-transaction timeout,
  so a stuck peer or a forgotten transaction never holds the others for long.
- A connection found dropped (a server restart, a network cut) is opened again once before
  a read or the start of a transaction; one lost in the middle of a transaction fails that
  transaction (its work was not committed, or may have been: the caller's lease and
  fencing settle it).
- A second connection, opened on first use, LISTENs for newly queued work (`wait_for_work`).
- Every driver error leaves as StoreError in plain words, the URL's password scrubbed out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from metrika_tui.store.db import SlotTaken, StoreError, bound, single
from metrika_tui.store.dialect import POSTGRES, WORK_CHANNEL, to_pyformat
from metrika_tui.store.schema import PG_MIGRATIONS, SCHEMA_VERSION
from metrika_tui.store_location import StoreLocation

#: seconds: one statement at most (a plan of 100,000 counters takes a second or two)
STATEMENT_TIMEOUT = 120
#: seconds a statement waits for a row another process holds (SQLite's busy timeout)
LOCK_TIMEOUT = 15
#: seconds a transaction may sit idle before the server ends it (a process stopped mid-way)
IDLE_IN_TRANSACTION_TIMEOUT = 60
#: seconds to reach the server
CONNECT_TIMEOUT = 10
#: the advisory lock migrations run under: two processes starting at once migrate once
MIGRATION_LOCK = 0x6D74_756D  # 'mtum'

Params = Sequence[Any] | Mapping[str, Any]


class PgResult:
    """`conn.execute(...)`: awaited, the cursor; or `async with` it, like aiosqlite's."""

    __slots__ = ("_cursor", "_pending")

    def __init__(self, pending: Any) -> None:
        self._pending = pending
        self._cursor: psycopg.AsyncClientCursor[Any] | None = None

    def __await__(self) -> Any:
        return self._pending.__await__()

    async def __aenter__(self) -> psycopg.AsyncClientCursor[Any]:
        self._cursor = await self._pending
        return self._cursor

    async def __aexit__(self, *exc_info: object) -> None:
        if self._cursor is not None:
            await self._cursor.close()


class PgConnection:
    """The connection as the store's transactions see it: execute / executemany with sqlite3's
    placeholders, results through the same cursor calls (fetchone, fetchall, rowcount)."""

    __slots__ = ("raw",)

    def __init__(self, raw: psycopg.AsyncConnection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Params = ()) -> PgResult:
        return PgResult(self._execute(sql, params))

    async def _execute(self, sql: str, params: Params) -> psycopg.AsyncClientCursor[Any]:
        cursor = psycopg.AsyncClientCursor(self.raw)
        await cursor.execute(to_pyformat(sql), bound(params))
        return cursor

    async def executemany(self, sql: str, seq: Iterable[Params]) -> None:
        batch = [bound(p) for p in seq]
        if batch:
            async with psycopg.AsyncClientCursor(self.raw) as cursor:
                await cursor.executemany(to_pyformat(sql), batch)


class PostgresDatabase:
    """A psycopg connection with transactions, the migration check and clear errors."""

    dialect = POSTGRES

    def __init__(self, location: StoreLocation) -> None:
        self.location = location
        self.lock = asyncio.Lock()
        self._raw: psycopg.AsyncConnection[Any] | None = None
        self._listener: psycopg.AsyncConnection[Any] | None = None

    @property
    def path(self) -> StoreLocation:
        return self.location

    @classmethod
    async def open(cls, location: StoreLocation) -> PostgresDatabase:
        db = cls(location)
        try:
            await db._connect()
            await db._migrate()
        except BaseException:
            await db.close()
            raise
        return db

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        try:
            raw = await psycopg.AsyncConnection.connect(
                self.location.url or "",
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT,
                application_name="metrika-tui",
            )
            await raw.execute(
                f"SET statement_timeout = '{STATEMENT_TIMEOUT}s'; SET lock_timeout = '{LOCK_TIMEOUT}s';"
                f" SET idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION_TIMEOUT}s'"
            )
        except psycopg.Error as exc:
            raise self.explain(exc) from None
        self._raw = raw
        return raw

    async def _live(self) -> psycopg.AsyncConnection[Any]:
        """The connection, opened again if it was dropped."""
        raw = self._raw
        if raw is None or raw.closed or raw.broken:
            if raw is not None:
                with contextlib.suppress(Exception):
                    await raw.close()
            raw = await self._connect()
        return raw

    async def _migrate(self) -> None:
        raw = await self._live()
        try:
            async with raw.transaction():
                await raw.execute(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
                await raw.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                row = await (await raw.execute("SELECT MAX(version) FROM schema_version")).fetchone()
                version = (row[0] if row else None) or 0
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.location} was created by a newer metrika-tui (schema {version}, this one "
                        f"knows {SCHEMA_VERSION}); upgrade metrika-tui to use it"
                    )
                for number in range(version + 1, SCHEMA_VERSION + 1):
                    await raw.execute(PG_MIGRATIONS[number - 1])
                if version < SCHEMA_VERSION:
                    await raw.execute("DELETE FROM schema_version")
                    await raw.execute("INSERT INTO schema_version (version) VALUES (%s)", (SCHEMA_VERSION,))
        except psycopg.Error as exc:
            raise self.explain(exc) from None

    async def close(self) -> None:
        for conn in (self._listener, self._raw):
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()
        self._raw = self._listener = None

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgConnection]:
        """A transaction: committed when the block ends, rolled back when it raises."""
        async with self.lock:
            raw = await self._live()
            try:
                async with raw.transaction():
                    yield PgConnection(raw)
            except psycopg.Error as exc:
                raise self.explain(exc) from None

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[PgConnection]:
        """The connection for a few reads in a row, other coroutines held off meanwhile."""
        async with self.lock:
            raw = await self._live()
            try:
                yield PgConnection(raw)
            except psycopg.Error as exc:
                raise self.explain(exc) from None

    async def _read(self, sql: str, params: Params, *, one: bool) -> Any:
        async with self.lock:
            for attempt in (1, 2):
                raw = await self._live()
                try:
                    async with PgConnection(raw).execute(sql, params) as cur:
                        return await (cur.fetchone() if one else cur.fetchall())
                except psycopg.OperationalError as exc:
                    if attempt == 1 and raw.broken:  # dropped under us: once more on a new connection
                        continue
                    raise self.explain(exc) from None
                except psycopg.Error as exc:
                    raise self.explain(exc) from None
        raise AssertionError("unreachable")

    async def fetchone(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        result: tuple[Any, ...] | None = await self._read(sql, params, one=True)
        return result

    async def value(self, sql: str, params: Params = ()) -> Any:
        """The one value of an aggregate query (`SELECT COUNT(*) ...`)."""
        return single(await self.fetchone(sql, params))

    async def fetchall(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        result: list[tuple[Any, ...]] = await self._read(sql, params, one=False)
        return result

    async def stream(self, sql: str, params: Params, batch: int) -> AsyncGenerator[list[tuple[Any, ...]], None]:
        """The rows of one SELECT, `batch` at a time, from a server-side cursor in one
        read-only transaction (one consistent read, in flat memory however many rows)."""
        async with self.lock:
            raw = await self._live()
            try:
                async with raw.transaction():
                    await raw.execute("SET TRANSACTION READ ONLY")
                    conn = PgConnection(raw)
                    await conn.execute(f"DECLARE metrika_stream NO SCROLL CURSOR FOR {sql}", params)
                    while True:
                        async with conn.execute(f"FETCH FORWARD {int(batch)} FROM metrika_stream") as cur:
                            rows = await cur.fetchall()
                        if not rows:
                            break
                        yield rows
            except psycopg.Error as exc:
                raise self.explain(exc) from None

    # -- newly queued work, from any process -------------------------------------------------
    async def wait_for_work(self, seconds: float) -> bool:
        """Wait up to `seconds` for a notice that jobs were queued (by any process on
        the database); True if one came. A connection trouble waits out the timeout instead
        (polling goes on regardless) and listens again next time."""
        try:
            if self._listener is None or self._listener.closed or self._listener.broken:
                self._listener = await psycopg.AsyncConnection.connect(
                    self.location.url or "", autocommit=True, connect_timeout=CONNECT_TIMEOUT
                )
                await self._listener.execute(f"LISTEN {WORK_CHANNEL}")
            async for _ in self._listener.notifies(timeout=seconds, stop_after=1):
                return True
            return False
        except psycopg.Error:
            if self._listener is not None:
                with contextlib.suppress(Exception):
                    await self._listener.close()
            self._listener = None
            await asyncio.sleep(seconds)
            return False

    # -- errors --------------------------------------------------------------------------
    def explain(self, exc: BaseException) -> StoreError:
        """The driver's error in words a user can act on; the URL's password never in them."""
        where = str(self.location)
        detail = self.location.scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        if isinstance(exc, StoreError):
            return exc
        if isinstance(exc, pg_errors.UniqueViolation) and exc.diag.constraint_name == "jobs_login_slot":
            return SlotTaken(f"{where}: another process took that slot of the login")
        if isinstance(exc, pg_errors.QueryCanceled):
            return StoreError(f"{where}: a statement ran over {STATEMENT_TIMEOUT}s and was cancelled ({detail})")
        if isinstance(exc, pg_errors.LockNotAvailable):
            return StoreError(f"{where}: a row stayed locked by another process for {LOCK_TIMEOUT}s")
        if isinstance(exc, pg_errors.DeadlockDetected):
            return StoreError(f"{where}: two processes waited for each other; this one's change was undone (retry)")
        if isinstance(exc, pg_errors.DiskFull):
            return StoreError(f"{where}: the server's disk is full; nothing was written")
        refused = "authentication failed" in detail or "no password supplied" in detail
        if isinstance(exc, pg_errors.InvalidPassword | pg_errors.InvalidAuthorizationSpecification) or (
            refused and isinstance(exc, psycopg.OperationalError)
        ):
            return StoreError(f"{where}: the server refused the user or password ({detail})")
        missing = "does not exist" in detail and "database" in detail
        if isinstance(exc, pg_errors.InvalidCatalogName) or (missing and isinstance(exc, psycopg.OperationalError)):
            return StoreError(f"{where}: the database {self.location.database!r} does not exist (create it first)")
        if isinstance(exc, pg_errors.InsufficientPrivilege):
            return StoreError(f"{where}: the user may not do this here ({detail})")
        if isinstance(exc, psycopg.OperationalError):
            return StoreError(f"{where}: cannot reach the PostgreSQL server ({detail})")
        return StoreError(f"{where}: {detail}")
