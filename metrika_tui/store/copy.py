"""Copying a whole store into another (`metrika-tui db copy`): SQLite to SQLite today, and
between SQLite and PostgreSQL, through the stores' own connections.

Every table that holds the user's data is copied, with its ids (counters are Metrika's ids,
and the rows refer to each other): accounts and their counters, the statistics, the raw
answers, the job history, the sync runs, the event log, the day's quota use and the planned
slots. What belongs to running processes is not: a lease (a running job arrives queued,
holder-less, as if its lease had been given back; an account's token refresh in progress is
forgotten), so the destination's processes carry on where the source's stopped.

Rows are read from the source a batch at a time, in key order (keyset paging: memory stays
flat however big the store), and written to the destination in one transaction: a failed
copy leaves the destination as it was. A destination that holds data is refused unless
`replace` (then its rows are deleted first, in that same transaction).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from metrika_tui.store.db import StoreError
from metrika_tui.store.store import Store

#: rows read and written at a time
COPY_BATCH = 2_000
_LIVE = "status IN ('queued', 'running')"


@dataclass(frozen=True, slots=True)
class Table:
    """One table as copied: its key (the copy's order), its columns, and for some columns the
    expression read in their place (what a lease becomes in the copy)."""

    name: str
    key: tuple[str, ...]
    columns: tuple[str, ...]
    read_as: tuple[tuple[str, str], ...] = ()

    def select(self) -> str:
        replaced = dict(self.read_as)
        return ", ".join(replaced.get(c, c) for c in self.columns)


#: every table of user data, parents before the rows that refer to them
TABLES: tuple[Table, ...] = (
    Table(
        "accounts",
        ("id",),
        (
            "id",
            "user_id",
            "login",
            "token",
            "revoked",
            "revoked_reason",
            "created_at",
            "quota_login",
            "uid",
            "refresh_token",
            "token_expires_at",
            "login_needed",
            "refresh_lease_until",
        ),
        (("refresh_lease_until", "NULL"),),
    ),
    Table(
        "counters",
        ("id",),
        (
            "id",
            "account_id",
            "name",
            "site",
            "time_zone",
            "active",
            "last_fetched_at",
            "last_fetched_day",
            "last_attempt_at",
            "last_error",
            "created_at",
            "synced_for",
            "time_zone_offset",
            "sample_share",
        ),
    ),
    Table("counter_access", ("counter_id", "account_id"), ("counter_id", "account_id", "found_at")),
    Table(
        "sync_runs",
        ("id",),
        ("id", "trigger", "origin", "started_at", "finished_at", "queued", "skipped", "failed", "synced"),
    ),
    Table(
        "jobs",
        ("id",),
        (
            "id",
            "counter_id",
            "account_id",
            "status",
            "priority",
            "attempts",
            "run_after",
            "lease_owner",
            "lease_expires_at",
            "last_error",
            "trigger",
            "created_at",
            "started_at",
            "finished_at",
            "rows",
            "login",
            "cost",
            "planned_for",
            "deferrals",
            "owner_host_id",
            "owner_pid",
            "owner_started",
            "heartbeat_at",
            "lost",
            "run_id",
        ),
        (
            ("status", "CASE WHEN status = 'running' THEN 'queued' ELSE status END"),
            ("lease_owner", "NULL"),
            ("lease_expires_at", "NULL"),
            *((c, f"CASE WHEN {_LIVE} THEN NULL ELSE {c} END") for c in ("owner_host_id", "owner_pid")),
            *((c, f"CASE WHEN {_LIVE} THEN NULL ELSE {c} END") for c in ("owner_started", "heartbeat_at")),
        ),
    ),
    Table(
        "daily_stats",
        ("counter_id", "date"),
        (
            "counter_id",
            "date",
            "visits",
            "users",
            "pageviews",
            "bounce_rate",
            "avg_visit_duration",
            "fetched_at",
            "sampled",
        ),
    ),
    Table(
        "monthly_stats",
        ("counter_id", "month"),
        (
            "counter_id",
            "month",
            "visits",
            "users",
            "pageviews",
            "bounce_rate",
            "avg_visit_duration",
            "days",
            "updated_at",
            "sampled",
        ),
    ),
    Table("raw_answers", ("id",), ("id", "counter_id", "job_id", "kind", "fetched_at", "body", "encoding")),
    Table("schedule_slots", ("schedule", "slot"), ("schedule", "slot", "planned_at", "origin")),
    Table(
        "events",
        ("id",),
        ("id", "ts", "kind", "level", "message", "account_id", "counter_id", "job_id", "origin", "data"),
    ),
    Table(
        "quota_days",
        ("login", "day"),
        ("login", "day", "requests", "spent_until", "spent_message", "paced_until"),
    ),
)


class DestinationNotEmpty(StoreError):
    """The destination holds data already (and `replace` was not asked for)."""


@dataclass(frozen=True, slots=True)
class CopyReport:
    """Rows copied per table (in copy order), and the leases the copy left behind."""

    rows: dict[str, int]
    leases_dropped: int  # running jobs, copied as queued


async def tables_with_rows(store: Store) -> list[str]:
    """The tables of user data that hold at least one row."""
    found = []
    for table in TABLES:
        row = await store.db.fetchone(f"SELECT EXISTS (SELECT 1 FROM {table.name})")
        if row is not None and row[0]:
            found.append(table.name)
    return found


async def copy_store(
    source: Store,
    dest: Store,
    *,
    replace: bool = False,
    batch: int = COPY_BATCH,
    on_batch: Callable[[str, int], None] | None = None,
) -> CopyReport:
    """Copy every row of user data from `source` into `dest` (see the module's words).
    `on_batch(table, rows so far)` hears of each batch written."""
    held = await tables_with_rows(dest)
    if held and not replace:
        raise DestinationNotEmpty(f"the destination already holds data ({', '.join(held)}); nothing was copied")
    leases = await _leases(source)
    rows: dict[str, int] = {}
    async with dest.db.transaction() as conn:
        for table in reversed(TABLES):
            await conn.execute(f"DELETE FROM {table.name}")
        for table in TABLES:
            insert = (
                f"INSERT INTO {table.name} ({', '.join(table.columns)})"
                f" VALUES ({', '.join('?' for _ in table.columns)})"
            )
            rows[table.name] = 0
            async for chunk in _batches(source, table, batch):
                await conn.executemany(insert, chunk)
                rows[table.name] += len(chunk)
                if on_batch is not None:
                    on_batch(table.name, rows[table.name])
    return CopyReport(rows, leases)


async def _batches(source: Store, table: Table, size: int) -> AsyncIterator[list[tuple[Any, ...]]]:
    """The table's rows in key order, `size` at a time (keyset paging: each batch starts past
    the last key of the one before)."""
    key = ", ".join(table.key)
    after: Sequence[object] | None = None
    positions = [table.columns.index(k) for k in table.key]
    while True:
        where = f" WHERE ({key}) > ({', '.join('?' for _ in table.key)})" if after is not None else ""
        chunk = await source.db.fetchall(
            f"SELECT {table.select()} FROM {table.name}{where} ORDER BY {key} LIMIT ?",
            (*(after or ()), size),
        )
        if not chunk:
            return
        yield chunk
        if len(chunk) < size:
            return
        after = tuple(chunk[-1][i] for i in positions)


async def _leases(source: Store) -> int:
    row = await source.db.fetchone("SELECT COUNT(*) FROM jobs WHERE status = 'running'")
    return int(row[0]) if row else 0
