"""One SQLite connection for a process, shared safely by its coroutines and by other processes.

- WAL and a busy timeout: readers never block the writer, writers wait for each other.
- Write transactions take the lock up front (BEGIN IMMEDIATE), so two processes never
  both read-then-upgrade and deadlock into "database is locked".
- One asyncio lock per connection: coroutines of one process take turns, so a transaction
  is never interleaved with another coroutine's statements.
- Every sqlite error leaves here as StoreError with words a user can act on.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias

import aiosqlite

from metrika_tui.private import create_private_file, make_private_dir
from metrika_tui.store.dialect import SQLITE
from metrika_tui.store.schema import MIGRATIONS, SCHEMA_VERSION

BUSY_TIMEOUT_MS = 15_000

#: a result row: plain tuples here (no row factory), which aiosqlite types as `sqlite3.Row`
Row: TypeAlias = Sequence[Any]


class StoreError(Exception):
    """The database cannot do what was asked; the message says why in plain words."""


def present(row: Row | None) -> Row:
    """A row the query always returns (an aggregate, a row the transaction just read)."""
    if row is None:
        raise StoreError("the database returned no row where one is always found")
    return row


def single(row: Row | None) -> Any:
    """The first column of the row an aggregate (COUNT, MAX, a PRAGMA) always returns."""
    return present(row)[0]


class SlotTaken(StoreError):
    """A claim lost its login slot to another host's claim at the same moment (PostgreSQL):
    nothing was changed, and claiming again sees the other's."""


def explain(exc: BaseException, path: Path) -> StoreError:
    text = str(exc)
    if "disk is full" in text or "database or disk is full" in text:
        return StoreError(f"{path}: the disk is full; nothing was written (free space and retry)")
    if "not a database" in text or "malformed" in text:
        return StoreError(f"{path} is not a metrika-tui database (or it is damaged)")
    if "locked" in text or "busy" in text:
        return StoreError(f"{path} stayed locked by another process for {BUSY_TIMEOUT_MS / 1000:g}s")
    if "readonly" in text or "read-only" in text:
        return StoreError(f"{path} is read-only for this user")
    if "unable to open" in text:
        return StoreError(f"{path} cannot be opened (does its folder exist, and may you write there?)")
    return StoreError(f"{path}: {text}")


class Database:
    """An aiosqlite connection with transactions, the migration check and clear errors."""

    dialect = SQLITE

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self.lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> Database:
        path = Path(path)
        try:  # its folder 0700 and the file 0600 whatever the umask: it holds tokens
            make_private_dir(path.parent)
            if path.is_symlink() and not path.exists():
                raise StoreError(f"{path} is a symbolic link to nothing: not followed (remove it)")
            if not path.exists():
                create_private_file(path)
        except OSError as exc:
            raise StoreError(f"{path} cannot be created: {exc.strerror}") from None
        try:
            # try plain sqlite3 first: a connect that fails inside aiosqlite leaves its thread
            # behind, which prints a traceback if the event loop is closed before it stops
            sqlite3.connect(path).close()
            conn = await aiosqlite.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            raise explain(exc, path) from None
        db = cls(conn, path)
        try:
            await db._prepare()
        except BaseException:
            await conn.close()
            raise
        return db

    async def _prepare(self) -> None:
        try:
            version = int(single(await self._one("PRAGMA user_version")))
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} was created by a newer metrika-tui (schema {version}, this one "
                    f"knows {SCHEMA_VERSION}); upgrade metrika-tui to use it"
                )
            await self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await self.conn.execute("PRAGMA journal_mode = WAL")
            await self.conn.execute("PRAGMA synchronous = NORMAL")
            await self.conn.execute("PRAGMA foreign_keys = ON")
            for number in range(version + 1, SCHEMA_VERSION + 1):
                async with self.transaction():
                    for statement in _statements(MIGRATIONS[number - 1]):
                        await self.conn.execute(statement)
                    await self.conn.execute(f"PRAGMA user_version = {number}")
        except sqlite3.Error as exc:
            raise explain(exc, self.path) from None

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.conn.close()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction holding the database lock from its first statement."""
        async with self.lock:
            try:
                await self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise explain(exc, self.path) from None
            try:
                yield self.conn
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    await self.conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise explain(exc, self.path) from None
                raise
            else:
                try:
                    await self.conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    with contextlib.suppress(sqlite3.Error):
                        await self.conn.execute("ROLLBACK")
                    raise explain(exc, self.path) from None

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection for a few reads in a row, other coroutines held off meanwhile."""
        async with self.lock:
            try:
                yield self.conn
            except sqlite3.Error as exc:
                raise explain(exc, self.path) from None

    async def _one(self, sql: str, params: Iterable[Any] | Mapping[str, Any] = ()) -> Row | None:
        async with self.conn.execute(sql, bound(params)) as cur:
            return await cur.fetchone()

    async def fetchone(self, sql: str, params: Iterable[Any] | Mapping[str, Any] = ()) -> Row | None:
        async with self.lock:
            try:
                return await self._one(sql, params)
            except sqlite3.Error as exc:
                raise explain(exc, self.path) from None

    async def value(self, sql: str, params: Iterable[Any] | Mapping[str, Any] = ()) -> Any:
        """The one value of an aggregate query (`SELECT COUNT(*) ...`)."""
        return single(await self.fetchone(sql, params))

    async def fetchall(self, sql: str, params: Iterable[Any] | Mapping[str, Any] = ()) -> list[Row]:
        async with self.lock:
            try:
                async with self.conn.execute(sql, bound(params)) as cur:
                    return list(await cur.fetchall())
            except sqlite3.Error as exc:
                raise explain(exc, self.path) from None

    async def stream(
        self, sql: str, params: Iterable[Any] | Mapping[str, Any], batch: int
    ) -> AsyncGenerator[list[tuple[Any, ...]], None]:
        """The rows of one SELECT (one consistent read), `batch` at a time; the next batch is
        read (in aiosqlite's thread) while the caller handles this one."""
        async with self.reading() as conn, conn.execute(sql, bound(params)) as cursor:
            ahead = asyncio.ensure_future(cursor.fetchmany(batch))
            try:
                while rows := await ahead:
                    ahead = asyncio.ensure_future(cursor.fetchmany(batch))
                    yield [tuple(row) for row in rows]
            finally:
                ahead.cancel()
                await asyncio.gather(ahead, return_exceptions=True)

    async def wait_for_work(self, seconds: float) -> bool:
        """SQLite has no notices: always the polling fallback (False after `seconds`)."""
        await asyncio.sleep(seconds)
        return False


def _statements(script: str) -> list[str]:
    """Split a migration into statements (no semicolons inside our DDL's strings)."""

    def has_code(chunk: str) -> bool:
        return any(line.strip() and not line.strip().startswith("--") for line in chunk.splitlines())

    return [chunk.strip() for chunk in script.split(";") if has_code(chunk)]


def bound(params: Iterable[Any] | Mapping[str, Any]) -> tuple[Any, ...] | Mapping[str, Any]:
    """Parameters as both drivers take them: a mapping as it is, any other iterable as a tuple."""
    return params if isinstance(params, Mapping) else tuple(params)
