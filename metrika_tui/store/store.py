"""The store: every SQL statement metrika-tui runs, behind methods named for their purpose."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from metrika_tui.engine.events import Event, Kind, Level
from metrika_tui.models import Counter, DailyStat, MonthlyStat
from metrika_tui.store.db import Database
from metrika_tui.store.queue import QueueStore, finish_runs
from metrika_tui.store.rows import Account, CounterRow, JobRecord, PlanRows, from_ts, to_ts
from metrika_tui.slices import map_in_slices
from metrika_tui.tokens import Token

#: the shared event log keeps this many rows (the full log is in the log file)
EVENT_LOG_ROWS = 20_000


class Store(QueueStore):
    """Accounts, counters, planning, statistics and the event log over one Database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    async def open(cls, path: Path | str) -> Store:
        return cls(await Database.open(Path(path)))

    async def close(self) -> None:
        await self.db.close()

    @property
    def path(self) -> Path:
        return self.db.path

    # -- accounts ----------------------------------------------------------------------
    async def add_account(self, *, user_id: str, login: str, token: Token, now: dt.datetime) -> Account:
        """Add an account, or bring back (un-revoke) the one holding this token."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO accounts (user_id, login, token, created_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (token) DO UPDATE SET revoked = 0, revoked_reason = NULL,"
                " login = excluded.login, user_id = excluded.user_id",
                (user_id, login, token.reveal(), to_ts(now)),
            )
        return next(a for a in await self.accounts() if a.token == token)

    async def accounts(self) -> list[Account]:
        rows = await self.db.fetchall(
            "SELECT a.id, a.user_id, a.login, a.token, a.revoked, a.revoked_reason,"
            " (SELECT COUNT(*) FROM counters c WHERE c.account_id = a.id) FROM accounts a ORDER BY a.id"
        )
        return [Account(r[0], r[1], r[2], Token(r[3]), bool(r[4]), r[5], r[6]) for r in rows]

    async def account_count(self) -> int:
        return (await self.db.fetchone("SELECT COUNT(*) FROM accounts"))[0]

    async def revoke_account(
        self, account_id: int, *, reason: str, now: dt.datetime, only_if_active: bool = False
    ) -> bool:
        """Mark the account revoked and cancel its live jobs; returns False for an unknown id.

        `only_if_active`: also False when it was revoked already, so of several jobs that meet
        the same dead token at once, exactly one revokes the account (and says so).
        """
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE accounts SET revoked = 1, revoked_reason = ? WHERE id = ? AND (revoked = 0 OR NOT ?)",
                (reason, account_id, only_if_active),
            )
            if cur.rowcount != 1:
                return False
            async with conn.execute(
                "UPDATE jobs SET status = 'cancelled', finished_at = ?, last_error = ?,"
                " lease_owner = NULL, lease_expires_at = NULL"
                " WHERE account_id = ? AND status IN ('queued', 'running') RETURNING id",
                (to_ts(now), reason, account_id),
            ) as cur:
                await finish_runs(conn, [row[0] for row in await cur.fetchall()])
            return True

    # -- counters ----------------------------------------------------------------------
    async def upsert_counters(
        self, account_id: int, counters: Sequence[Counter], *, now: dt.datetime
    ) -> tuple[int, int]:
        """Insert new counters, refresh names/sites of known ones; returns (total, new)."""
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT COUNT(*) FROM counters") as cur:
                before = (await cur.fetchone())[0]
            await conn.executemany(
                "INSERT INTO counters (id, account_id, name, site, time_zone, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
                " site = excluded.site, time_zone = excluded.time_zone",
                [(c.id, account_id, c.name, c.site, c.time_zone, to_ts(now)) for c in counters],
            )
            async with conn.execute("SELECT COUNT(*) FROM counters") as cur:
                after = (await cur.fetchone())[0]
        return len(counters), after - before

    async def set_counter_active(self, counter_id: int, active: bool, *, now: dt.datetime | None = None) -> bool:
        """Enable or disable; disabling also drops a queued (not a running) job."""
        async with self.db.transaction() as conn:
            cur = await conn.execute("UPDATE counters SET active = ? WHERE id = ?", (int(active), counter_id))
            if not active:
                async with conn.execute(
                    "UPDATE jobs SET status = 'cancelled', last_error = 'counter disabled', finished_at = ?"
                    " WHERE counter_id = ? AND status = 'queued' RETURNING id",
                    (to_ts(now or dt.datetime.now(dt.UTC)), counter_id),
                ) as cancelled:
                    await finish_runs(conn, [row[0] for row in await cancelled.fetchall()])
            return cur.rowcount == 1

    async def counter_rows(
        self, counter_id: int | None = None, *, ids: Iterable[int] | None = None
    ) -> list[CounterRow]:
        """Every counter (or this one, or these `ids`) with its account and live job, in
        account then counter order."""
        where, params = "(:id IS NULL OR c.id = :id)", {"id": counter_id}
        if ids is not None:  # a few changed counters out of many: walk them by primary key
            where, params = "c.id IN (SELECT value FROM json_each(:ids))", {"ids": json.dumps(sorted(ids))}
        rows = await self.db.fetchall(
            "SELECT c.id, c.account_id, a.user_id, a.login, a.revoked, c.name, c.site, c.time_zone,"
            " c.active, c.last_fetched_at, c.last_attempt_at, c.last_error, j.status,"
            " COALESCE(j.attempts, 0)"
            " FROM counters c JOIN accounts a ON a.id = c.account_id"
            " LEFT JOIN jobs j ON j.counter_id = c.id AND j.status IN ('queued', 'running')"
            f" WHERE {where} ORDER BY c.account_id, c.id",
            params,
        )
        return await map_in_slices(lambda r: CounterRow(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6], r[7],
                                   bool(r[8]), from_ts(r[9]), from_ts(r[10]), r[11], r[12], r[13]), rows)  # fmt: skip

    # -- planning ----------------------------------------------------------------------
    async def plan_jobs(
        self,
        *,
        now: dt.datetime,
        interval: dt.timedelta,
        force: bool = False,
        account_id: int | None = None,
        counter_id: int | None = None,
        trigger: str = "manual",
        priority: int = 0,
        slot: tuple[str, str] | None = None,
        origin: str = "",
    ) -> PlanRows:
        """Queue a job for each due counter, in one transaction (with the slot row, if any).

        Due: active, account not revoked, and never synced or last synced an interval ago
        (any, with force). A counter with a live job gets no second one; forcing it raises
        its priority instead.
        """
        ts = to_ts(now)
        async with self.db.transaction() as conn:
            if slot is not None:
                cur = await conn.execute(
                    "INSERT OR IGNORE INTO schedule_slots (schedule, slot, planned_at, origin)"
                    " VALUES (?, ?, ?, ?)",
                    (*slot, ts, origin),
                )
                if cur.rowcount != 1:
                    return PlanRows([], [], [], slot_taken=False)
            async with conn.execute(
                "SELECT c.id, c.account_id, j.id IS NOT NULL,"
                " (:force OR c.last_fetched_at IS NULL OR c.last_fetched_at <= :stale)"
                " FROM counters c JOIN accounts a ON a.id = c.account_id"
                " LEFT JOIN jobs j ON j.counter_id = c.id AND j.status IN ('queued', 'running')"
                " WHERE c.active = 1 AND a.revoked = 0"
                " AND (:account IS NULL OR c.account_id = :account)"
                " AND (:counter IS NULL OR c.id = :counter) ORDER BY c.account_id, c.id",
                {"force": int(force), "stale": ts - interval.total_seconds(),
                 "account": account_id, "counter": counter_id},  # fmt: skip
            ) as cur:
                candidates = await cur.fetchall()
            queued, skipped, live = [], [], []
            for cid, aid, has_live, due in candidates:
                (live if has_live else queued if due else skipped).append((cid, aid))
            run = await conn.execute(  # a run that queued nothing is finished as it starts
                "INSERT INTO sync_runs (trigger, origin, started_at, queued, skipped, finished_at, synced, failed)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (trigger, origin, ts, len(queued), len(skipped), *((None,) * 3 if queued else (ts, 0, 0))),
            )
            await conn.executemany(
                "INSERT INTO jobs (counter_id, account_id, status, priority, run_after, trigger, created_at, run_id)"
                " VALUES (?, ?, 'queued', ?, ?, ?, ?, ?)",
                [(cid, aid, priority, ts, trigger, ts, run.lastrowid) for cid, aid in queued],
            )
            if force and priority and live:
                await conn.executemany(
                    "UPDATE jobs SET priority = MAX(priority, ?), run_after = MIN(run_after, ?)"
                    " WHERE counter_id = ? AND status = 'queued'",
                    [(priority, ts, cid) for cid, _ in live],
                )
        return PlanRows(queued, skipped, live)

    async def planned_slots(self, schedule: str = "sync") -> list[tuple[str, str]]:
        """(slot, origin) of every planned slot: which process planned which tick."""
        return await self.db.fetchall(
            "SELECT slot, origin FROM schedule_slots WHERE schedule = ? ORDER BY slot", (schedule,)
        )

    async def prune_history(self, *, now: dt.datetime, keep: dt.timedelta) -> int:
        """Forget finished jobs and sync runs older than `keep` (a year of hourly passes over
        10,000 counters would be 87 million rows). A counter's newest job always stays, so
        its last failure stays visible."""
        cutoff = to_ts(now - keep)
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "DELETE FROM jobs WHERE finished_at < :cutoff AND status IN ('done', 'failed', 'cancelled')"
                " AND id < (SELECT MAX(id) FROM jobs newer WHERE newer.counter_id = jobs.counter_id)",
                {"cutoff": cutoff},
            )
            await conn.execute("DELETE FROM sync_runs WHERE started_at < ?", (cutoff,))
            return cur.rowcount

    # -- history and statistics --------------------------------------------------------
    async def job_history(self, counter_id: int, limit: int = 20) -> list[JobRecord]:
        return await self._jobs(
            "WHERE j.counter_id = ? AND j.started_at IS NOT NULL ORDER BY j.id DESC LIMIT ?", (counter_id, limit)
        )

    async def failed_jobs(self) -> list[JobRecord]:
        """The last failed job of each counter whose last attempt failed and that waits for nothing."""
        return await self._jobs(
            "WHERE j.id IN (SELECT MAX(id) FROM jobs WHERE status = 'failed' GROUP BY counter_id)"
            " AND c.last_error IS NOT NULL AND NOT EXISTS (SELECT 1 FROM jobs l"
            " WHERE l.counter_id = j.counter_id AND l.status IN ('queued', 'running'))"
            " ORDER BY j.finished_at DESC",
            (),
        )

    async def _jobs(self, where: str, params: tuple) -> list[JobRecord]:
        rows = await self.db.fetchall(
            "SELECT j.id, j.counter_id, j.account_id, j.status, j.attempts, j.trigger, j.created_at,"
            " j.started_at, j.finished_at, j.last_error, j.rows, c.name, j.lost"
            f" FROM jobs j JOIN counters c ON c.id = j.counter_id {where}",
            params,
        )
        return [
            JobRecord(r[0], r[1], r[2], r[3], r[4], r[5], from_ts(r[6]), from_ts(r[7]), from_ts(r[8]),
                      r[9], r[10], r[11], r[12])  # fmt: skip
            for r in rows
        ]

    async def daily_stats(self, counter_id: int, since: dt.date | None = None) -> list[DailyStat]:
        rows = await self.db.fetchall(
            "SELECT date, visits, users, pageviews, bounce_rate, avg_visit_duration FROM daily_stats"
            " WHERE counter_id = ? AND date >= ? ORDER BY date",
            (counter_id, (since or dt.date.min).isoformat()),
        )
        return [DailyStat(dt.date.fromisoformat(r[0]), *r[1:]) for r in rows]

    async def monthly_stats(self, counter_id: int) -> list[MonthlyStat]:
        rows = await self.db.fetchall(
            "SELECT month, visits, users, pageviews, bounce_rate, avg_visit_duration, days"
            " FROM monthly_stats WHERE counter_id = ? ORDER BY month",
            (counter_id,),
        )
        return [MonthlyStat(dt.date.fromisoformat(r[0]), *r[1:]) for r in rows]

    async def raw_answer_count(self, counter_id: int) -> int:
        return (await self.db.fetchone("SELECT COUNT(*) FROM raw_answers WHERE counter_id = ?", (counter_id,)))[0]

    async def table_counts(self) -> dict[str, int]:
        """Row counts of the main tables (for checks and the benchmarks)."""
        names = ("accounts", "counters", "jobs", "daily_stats", "monthly_stats", "raw_answers", "events")
        return {n: (await self.db.fetchone(f"SELECT COUNT(*) FROM {n}"))[0] for n in names}

    # -- the shared event log ------------------------------------------------------------
    async def append_events(self, events: Iterable[Event]) -> None:
        batch = [
            (to_ts(e.ts), e.kind.value, e.level.value, e.message, e.account_id, e.counter_id, e.job_id,
             e.origin, json.dumps(e.data, default=str) if e.data else None)  # fmt: skip
            for e in events
        ]
        if not batch:
            return
        async with self.db.transaction() as conn:
            cur = await conn.executemany(
                "INSERT INTO events (ts, kind, level, message, account_id, counter_id, job_id, origin, data)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                batch,
            )
            async with conn.execute("SELECT MAX(id) FROM events") as cur:
                newest = (await cur.fetchone())[0] or 0
            if newest % 1000 < len(batch):  # now and then, trim the log to its bound
                await conn.execute("DELETE FROM events WHERE id <= ?", (newest - EVENT_LOG_ROWS,))

    async def events_since(self, last_id: int | None, limit: int = 1000) -> list[Event]:
        rows = await self.db.fetchall(
            "SELECT id, ts, kind, level, message, account_id, counter_id, job_id, origin, data"
            " FROM events WHERE id > ? ORDER BY id LIMIT ?",
            (last_id or 0, limit),
        )
        return [
            Event(Kind(r[2]), r[4], level=Level(r[3]), ts=from_ts(r[1]), account_id=r[5], counter_id=r[6],
                  job_id=r[7], origin=r[8], data=json.loads(r[9]) if r[9] else {}, id=r[0])  # fmt: skip
            for r in rows
        ]

    async def last_event_id(self) -> int:
        return (await self.db.fetchone("SELECT COALESCE(MAX(id), 0) FROM events"))[0]
