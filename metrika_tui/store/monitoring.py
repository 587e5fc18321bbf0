"""Reads for watching the sync from outside: `metrika-tui health` and the Prometheus metrics.

Each is cheap at 100,000 counters and reads no job history (months of it): live jobs only
(the partial index), the counters' own rows, the newest planned slot.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from metrika_tui.store.backend import AnyDatabase
from metrika_tui.store.db import present
from metrika_tui.store.rows import at, from_ts, to_ts


@dataclass(frozen=True, slots=True)
class PlannedSlot:
    """A slot of the schedule, and which process planned it when."""

    slot: dt.datetime
    planned_at: dt.datetime
    origin: str


@dataclass(frozen=True, slots=True)
class SyncedCounter:
    """An active counter of a live account, and how old its data is (since when it waits for
    its first, if never synced)."""

    id: int
    name: str
    quota_login: str
    last_fetched_at: dt.datetime | None
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Scope:
    """What there is to sync: accounts, revoked ones, counters, active ones of live accounts."""

    accounts: int
    revoked_accounts: int
    counters: int
    active_counters: int


class MonitoringStore:
    """Monitoring reads; mixed into Store, which provides `self.db`."""

    db: AnyDatabase

    async def note_slot(self, *, schedule: str, slot: str, now: dt.datetime, origin: str) -> bool:
        """Record that `slot` was planned (a start-up's catch-up covers the slot it starts in),
        unless someone planned it already; True if this call recorded it."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO schedule_slots (schedule, slot, planned_at, origin) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (schedule, slot, to_ts(now), origin),
            )
            return cur.rowcount == 1

    async def last_planned_slot(self, schedule: str = "sync") -> PlannedSlot | None:
        row = await self.db.fetchone(
            "SELECT slot, planned_at, origin FROM schedule_slots WHERE schedule = ? ORDER BY slot DESC LIMIT 1",
            (schedule,),
        )
        if row is None:
            return None
        return PlannedSlot(dt.datetime.fromisoformat(row[0]), at(row[1]), row[2])

    async def synced_counters(self) -> list[SyncedCounter]:
        """Every active counter of a live account, by id."""
        rows = await self.db.fetchall(
            "SELECT c.id, c.name, a.quota_login, c.last_fetched_at, c.created_at FROM counters c"
            " JOIN accounts a ON a.id = c.account_id WHERE c.active = 1 AND a.revoked = 0 ORDER BY c.id"
        )
        return [SyncedCounter(r[0], r[1], r[2], from_ts(r[3]), at(r[4])) for r in rows]

    async def scope(self) -> Scope:
        row = await self.db.fetchone(
            "SELECT (SELECT COUNT(*) FROM accounts), (SELECT COUNT(*) FROM accounts WHERE revoked != 0),"
            " (SELECT COUNT(*) FROM counters), (SELECT COUNT(*) FROM counters c JOIN accounts a"
            " ON a.id = c.account_id WHERE c.active = 1 AND a.revoked = 0)"
        )
        return Scope(*present(row))

    async def live_job_counts(self, now: dt.datetime) -> dict[str, int]:
        """Jobs waiting and running, every process's: queued (may run now), deferred (queued
        for later: a quota, a backoff), running."""
        row = await self.db.fetchone(
            "SELECT COALESCE(SUM(CASE WHEN status = 'queued' AND run_after <= :now THEN 1 ELSE 0 END), 0),"
            " COALESCE(SUM(CASE WHEN status = 'queued' AND run_after > :now THEN 1 ELSE 0 END), 0),"
            " COALESCE(SUM(CASE WHEN status = 'running' THEN 1 ELSE 0 END), 0)"
            " FROM jobs WHERE status IN ('queued', 'running')",
            {"now": to_ts(now)},
        )
        queued, deferred, running = present(row)
        return {"queued": queued, "deferred": deferred, "running": running}
