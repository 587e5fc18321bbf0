"""Choosing the database behind the store: a SQLite file or a PostgreSQL server, by location.

psycopg is imported only for a PostgreSQL location: SQLite users need nothing more
(`pip install 'metrika-tui[postgres]'` adds the driver).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from metrika_tui.store.db import Database, StoreError
from metrika_tui.store_location import StoreLocation

if TYPE_CHECKING:
    from metrika_tui.store.postgres import PostgresDatabase

#: either backend: the same methods (transaction, reading, fetchone, fetchall, stream,
#: wait_for_work, close) and a `dialect` for the few words their SQL differs in
AnyDatabase: TypeAlias = "Database | PostgresDatabase"


async def open_database(location: StoreLocation) -> AnyDatabase:
    """Open (and migrate) the database at `location`."""
    if location.path is not None:
        return await Database.open(location.path)
    try:
        from metrika_tui.store.postgres import PostgresDatabase
    except ImportError:
        raise StoreError(
            f"{location}: PostgreSQL needs its driver, psycopg: pip install 'metrika-tui[postgres]'"
        ) from None
    return await PostgresDatabase.open(location)
