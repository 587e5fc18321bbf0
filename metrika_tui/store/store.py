"""The store: every SQL statement metrika-tui runs, behind methods named for their purpose."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from metrika_tui.events import Event, Kind, Level
from metrika_tui.jobs import JobStatus, Trigger
from metrika_tui.models import Counter, DailyStat, MonthlyStat
from metrika_tui.slices import map_in_slices
from metrika_tui.store.backend import AnyDatabase, open_database
from metrika_tui.store.db import Row, single
from metrika_tui.store.export import ExportStore
from metrika_tui.store.monitoring import MonitoringStore
from metrika_tui.store.queue import QueueStore, announce_work, decompress_answer, finish_runs
from metrika_tui.store.quotas import QuotaStore
from metrika_tui.store.rows import (
    Account,
    CounterRow,
    JobRecord,
    LoginDay,
    PlanCandidate,
    PlanDecision,
    PlanRows,
    at,
    from_ts,
    live_status,
    to_ts,
)
from metrika_tui.store_location import StoreLocation
from metrika_tui.tokens import Token

#: the shared event log keeps this many rows (the full log is in the log file)
EVENT_LOG_ROWS = 20_000
#: the account a counter is synced through: of the live accounts that see it, the one that
#: found it first (so it goes back to its first account when that one is added again)
_PREFERRED_ACCOUNT = (
    "SELECT x.account_id FROM counter_access x JOIN accounts a ON a.id = x.account_id"
    " WHERE x.counter_id = counters.id AND a.revoked = 0 ORDER BY x.found_at, x.account_id LIMIT 1"
)
#: whose quotas an account's requests count against: its Yandex login (case and '.'/'-' do not
#: matter to Yandex), or the account alone while its login is unknown
QUOTA_LOGIN = "CASE WHEN login IN ('', 'unknown') THEN 'account:' || id ELSE lower(replace(login, '.', '-')) END"


class Store(QueueStore, ExportStore, MonitoringStore, QuotaStore):
    """Accounts, counters, planning, statistics and the event log over one Database."""

    def __init__(self, db: AnyDatabase) -> None:
        self.db = db

    @classmethod
    async def open(cls, location: StoreLocation | Path | str) -> Store:
        """The store at `location`: a SQLite file, or a PostgreSQL database."""
        return cls(await open_database(StoreLocation.parse(location)))

    async def close(self) -> None:
        await self.db.close()

    @property
    def path(self) -> Path | StoreLocation:
        return self.db.path

    @property
    def is_postgres(self) -> bool:
        """Several hosts may share it: quotas are kept in it, workers are told of new jobs."""
        return self.db.dialect.is_postgres

    async def wait_for_work(self, seconds: float) -> bool:
        """Wait up to `seconds` for word that jobs were queued by any process (PostgreSQL's
        LISTEN/NOTIFY); True if it came. SQLite: False after the timeout (poll instead)."""
        return await self.db.wait_for_work(seconds)

    # -- accounts ----------------------------------------------------------------------
    async def add_account(
        self,
        *,
        user_id: str | None,
        login: str,
        token: Token,
        now: dt.datetime,
        uid: str | None = None,
        refresh_token: Token | None = None,
        expires_at: dt.datetime | None = None,
    ) -> Account:
        """Add an account, or bring back (un-revoke) the one holding this token, or, for a
        Yandex user (`uid`) already known, give that account the new token: one user is one
        account, and logging in again is how a dead or refused token is replaced. `user_id`
        (the user's label) None: the login for a new account, the label it had for a known one."""
        secret, refresh = token.reveal(), refresh_token.reveal() if refresh_token else None
        expires = to_ts(expires_at) if expires_at else None
        async with self.db.transaction() as conn:

            async def one(sql: str, params: tuple[Any, ...]) -> Row | None:
                async with conn.execute(sql, params) as cur:
                    return await cur.fetchone()

            # the account holding this token, else the one of this Yandex user
            target = await one("SELECT id FROM accounts WHERE token = ?", (secret,))
            if target is None and uid is not None:
                target = await one("SELECT id FROM accounts WHERE uid = ?", (uid,))
            if target is None:
                await conn.execute(
                    "INSERT INTO accounts (user_id, login, token, created_at, uid, refresh_token, token_expires_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (user_id or login, login, secret, to_ts(now), uid, refresh, expires),
                )
            else:
                taken = uid is not None and await one(
                    "SELECT 1 FROM accounts WHERE uid = ? AND id != ?", (uid, target[0])
                )
                await conn.execute(
                    # a new token brings its own refresh token and expiry (or none); the same one keeps them
                    "UPDATE accounts SET user_id = COALESCE(?, user_id), login = ?, token = ?, revoked = 0,"
                    " revoked_reason = NULL,"
                    " login_needed = NULL, uid = COALESCE(?, uid),"
                    " refresh_token = CASE WHEN token = ? THEN COALESCE(?, refresh_token) ELSE ? END,"
                    " token_expires_at = CASE WHEN token = ? THEN COALESCE(?, token_expires_at) ELSE ? END"
                    " WHERE id = ?",
                    (
                        user_id,
                        login,
                        secret,
                        None if taken else uid,
                        secret,
                        refresh,
                        refresh,
                        secret,
                        expires,
                        expires,
                        target[0],
                    ),
                )
            await conn.execute(f"UPDATE accounts SET quota_login = {QUOTA_LOGIN} WHERE token = ?", (secret,))
        return next(a for a in await self.accounts() if a.token == token)

    async def accounts(self) -> list[Account]:
        rows = await self.db.fetchall(
            "SELECT a.id, a.user_id, a.login, a.token, a.revoked, a.revoked_reason,"
            " (SELECT COUNT(*) FROM counter_access x WHERE x.account_id = a.id), a.quota_login, a.uid, a.refresh_token,"
            " a.token_expires_at, a.login_needed FROM accounts a ORDER BY a.id"
        )
        return [
            Account(
                r[0],
                r[1],
                r[2],
                Token(r[3]),
                bool(r[4]),
                r[5],
                r[6],
                r[7],
                r[8],
                Token(r[9]) if r[9] else None,
                from_ts(r[10]),
                r[11],
            )
            for r in rows
        ]

    # -- the token lifecycle (issue 16) ---------------------------------------------------
    async def claim_token_refresh(
        self, account_id: int, *, now: dt.datetime, due_before: dt.datetime, lease: dt.timedelta
    ) -> Account | None:
        """Take the right to refresh this account's token, if it is still due (expires before
        `due_before`, has a refresh token, needs no new login) and no other process holds it.

        Returns the account as it is now (another process may have refreshed it meanwhile)."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE accounts SET refresh_lease_until = ? WHERE id = ? AND revoked = 0"
                " AND refresh_token IS NOT NULL AND login_needed IS NULL AND token_expires_at < ?"
                " AND (refresh_lease_until IS NULL OR refresh_lease_until < ?)",
                (to_ts(now + lease), account_id, to_ts(due_before), to_ts(now)),
            )
            if cur.rowcount != 1:
                return None
        return next(a for a in await self.accounts() if a.id == account_id)

    async def store_refreshed_token(
        self,
        account_id: int,
        *,
        old_refresh: Token,
        token: Token,
        refresh_token: Token | None,
        expires_at: dt.datetime | None,
    ) -> bool:
        """Keep what a refresh gave, unless the account changed meanwhile (a new login)."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE accounts SET token = ?, refresh_token = COALESCE(?, refresh_token), token_expires_at = ?,"
                " refresh_lease_until = NULL WHERE id = ? AND refresh_token = ?",
                (
                    token.reveal(),
                    refresh_token.reveal() if refresh_token else None,
                    to_ts(expires_at) if expires_at else None,
                    account_id,
                    old_refresh.reveal(),
                ),
            )
            return cur.rowcount == 1

    async def mark_login_needed(self, account_id: int, *, reason: str, old_refresh: Token | None = None) -> bool:
        """Say the account must log in again (its refresh was refused); its token works on
        until it dies. With `old_refresh`: only if that is still its refresh token."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE accounts SET login_needed = ?, refresh_lease_until = NULL"
                " WHERE id = ? AND (? IS NULL OR refresh_token = ?)",
                (
                    reason,
                    account_id,
                    old_refresh.reveal() if old_refresh else None,
                    old_refresh.reveal() if old_refresh else None,
                ),
            )
            return cur.rowcount == 1

    async def release_token_refresh(self, account_id: int) -> None:
        """Give the refresh right back without a result (Yandex ID did not answer)."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE accounts SET refresh_lease_until = NULL WHERE id = ?", (account_id,))

    async def set_identity(self, account_id: int, *, login: str, uid: str) -> bool:
        """Record who the token belongs to (login.yandex.ru/info); False when another
        account already holds that Yandex user (the user adds it again to merge)."""
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT 1 FROM accounts WHERE uid = ? AND id != ?", (uid, account_id)) as cur:
                if await cur.fetchone():
                    return False
            cur = await conn.execute("UPDATE accounts SET login = ?, uid = ? WHERE id = ?", (login, uid, account_id))
            await conn.execute(f"UPDATE accounts SET quota_login = {QUOTA_LOGIN} WHERE id = ?", (account_id,))
            return cur.rowcount == 1

    async def account_count(self) -> int:
        return int(await self.db.value("SELECT COUNT(*) FROM accounts"))

    async def revoke_account(
        self, account_id: int, *, reason: str, now: dt.datetime, only_if_active: bool = False
    ) -> bool:
        """Mark the account revoked and cancel its live jobs; returns False for an unknown id.

        Its counters that another live account sees move to that one (`rehome`), and those whose
        jobs were just cancelled are queued again through it: a pass goes on without them lost.
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
                "SELECT counter_id, priority, trigger, cost, planned_for, run_id FROM jobs"
                " WHERE account_id = ? AND status IN ('queued', 'running')",
                (account_id,),
            ) as cur:
                stopped = await cur.fetchall()
            async with conn.execute(
                "UPDATE jobs SET status = ?, finished_at = ?, last_error = ?,"
                " lease_owner = NULL, lease_expires_at = NULL"
                " WHERE account_id = ? AND status IN ('queued', 'running') RETURNING id",
                (JobStatus.CANCELLED, to_ts(now), reason, account_id),
            ) as cur:
                cancelled = [row[0] for row in await cur.fetchall()]
            moved = dict(await _rehome(conn, "account_id = :account", {"account": account_id}))
            await conn.executemany(  # the same run: it is finished when they are
                "INSERT INTO jobs (counter_id, account_id, login, cost, status, priority, run_after, planned_for,"
                " trigger, created_at, run_id) SELECT ?, id, quota_login, ?, ?, ?, ?, ?, ?, ?, ? FROM accounts"
                " WHERE id = ?",
                [
                    (
                        cid,
                        cost,
                        JobStatus.QUEUED,
                        priority,
                        to_ts(now),
                        planned_for,
                        trigger,
                        to_ts(now),
                        run_id,
                        moved[cid],
                    )
                    for cid, priority, trigger, cost, planned_for, run_id in stopped
                    if cid in moved
                ],
            )
            await finish_runs(conn, self.db.dialect, cancelled)
            if moved:
                await announce_work(conn, self.db.dialect)
            return True

    # -- counters ----------------------------------------------------------------------
    async def upsert_counters(
        self, account_id: int, counters: Sequence[Counter], *, now: dt.datetime
    ) -> tuple[int, int]:
        """Insert new counters, refresh names/sites of known ones; returns (total, new).

        Every one of them is now seen by this account too (a counter shared by several
        accounts belongs to all of them); one whose account was revoked moves to this one."""
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT COUNT(*) FROM counters") as cur:
                before = int(single(await cur.fetchone()))
            await conn.executemany(
                "INSERT INTO counters (id, account_id, name, site, time_zone, time_zone_offset, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
                " site = excluded.site, time_zone = excluded.time_zone, time_zone_offset = excluded.time_zone_offset",
                [(c.id, account_id, c.name, c.site, c.time_zone, c.time_zone_offset, to_ts(now)) for c in counters],
            )
            await conn.executemany(
                "INSERT INTO counter_access (counter_id, account_id, found_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [(c.id, account_id, to_ts(now)) for c in counters],
            )
            async with conn.execute("SELECT COUNT(*) FROM counters") as cur:
                after = int(single(await cur.fetchone()))
            await _rehome(
                conn,
                f"id IN {self.db.dialect.ids(':ids')}",
                {"ids": json.dumps([c.id for c in counters])},
            )
        return len(counters), after - before

    async def counter_access(self) -> dict[int, tuple[int, ...]]:
        """Counter id -> the accounts that see it, the one it is synced through first."""
        rows = await self.db.fetchall(
            "SELECT x.counter_id, x.account_id, x.account_id = c.account_id FROM counter_access x"
            " JOIN counters c ON c.id = x.counter_id ORDER BY x.counter_id, 3 DESC, x.found_at, x.account_id"
        )
        seen: dict[int, list[int]] = {}
        for counter_id, account_id, _home in rows:
            seen.setdefault(counter_id, []).append(account_id)
        return {counter_id: tuple(accounts) for counter_id, accounts in seen.items()}

    async def set_counter_active(self, counter_id: int, active: bool, *, now: dt.datetime | None = None) -> bool:
        """Enable or disable; disabling also drops a queued (not a running) job."""
        async with self.db.transaction() as conn:
            cur = await conn.execute("UPDATE counters SET active = ? WHERE id = ?", (int(active), counter_id))
            if not active:
                async with conn.execute(
                    "UPDATE jobs SET status = ?, last_error = 'counter disabled', finished_at = ?"
                    " WHERE counter_id = ? AND status = 'queued' RETURNING id",
                    (JobStatus.CANCELLED, to_ts(now or dt.datetime.now(dt.UTC)), counter_id),
                ) as cancelled:
                    await finish_runs(conn, self.db.dialect, [row[0] for row in await cancelled.fetchall()])
            return cur.rowcount == 1

    async def counter_rows(
        self, counter_id: int | None = None, *, ids: Iterable[int] | None = None
    ) -> list[CounterRow]:
        """Every counter (or this one, or these `ids`) with its account and live job, in
        account then counter order."""
        where, params = "(:id IS NULL OR c.id = :id)", dict[str, object](id=counter_id)
        if ids is not None:  # a few changed counters out of many: walk them by primary key
            where, params = f"c.id IN {self.db.dialect.ids(':ids')}", {"ids": json.dumps(sorted(ids))}
        rows = await self.db.fetchall(
            "SELECT c.id, c.account_id, a.user_id, a.login, a.revoked, c.name, c.site, c.time_zone,"
            " c.active, c.last_fetched_at, c.last_attempt_at, c.last_error, j.status,"
            " COALESCE(j.attempts, 0), a.quota_login, c.synced_for, c.sample_share"
            " FROM counters c JOIN accounts a ON a.id = c.account_id"
            " LEFT JOIN jobs j ON j.counter_id = c.id AND j.status IN ('queued', 'running')"
            f" WHERE {where} ORDER BY c.account_id, c.id",
            params,
        )
        return await map_in_slices(
            lambda r: CounterRow(
                r[0],
                r[1],
                r[2],
                r[3],
                bool(r[4]),
                r[5],
                r[6],
                r[7],
                bool(r[8]),
                from_ts(r[9]),
                from_ts(r[10]),
                r[11],
                live_status(r[12]),
                r[13],
                r[14],
                from_ts(r[15]),
                r[16],
            ),
            rows,
        )

    # -- planning ----------------------------------------------------------------------
    async def plan_jobs(
        self,
        *,
        now: dt.datetime,
        choose: Callable[[list[PlanCandidate], dict[str, LoginDay]], PlanDecision],
        account_id: int | None = None,
        counter_id: int | None = None,
        trigger: Trigger = Trigger.MANUAL,
        priority: int = 0,
        boost: bool = False,
        slot: tuple[str, str] | None = None,
        origin: str = "",
    ) -> PlanRows:
        """Queue the jobs `choose` picks, in one transaction (with the slot row, if any).

        `choose` (the engine's planner) sees every active counter of a live account (or this
        account's, or this one) and each login's day as counted here, inside the same write
        transaction: two processes planning at once cannot both spend the same budget. A
        counter with a live job gets no second one; `boost` raises its priority instead.
        """
        ts, d = to_ts(now), self.db.dialect
        async with self.db.transaction() as conn:
            if slot is not None:  # the slot row first: a second planner of the slot waits here, then stops
                cur = await conn.execute(
                    "INSERT INTO schedule_slots (schedule, slot, planned_at, origin) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    (*slot, ts, origin),
                )
                if cur.rowcount != 1:
                    return PlanRows([], [], [], slot_taken=False)
            if d.lock_planning:  # one plan at a time: each reads the budgets the previous one spent
                await conn.execute(d.lock_planning)
            async with conn.execute(
                "SELECT c.id, c.account_id, a.quota_login, j.id IS NOT NULL, c.last_fetched_at, c.synced_for,"
                " c.last_fetched_day, c.time_zone"
                " FROM counters c JOIN accounts a ON a.id = c.account_id"
                " LEFT JOIN jobs j ON j.counter_id = c.id AND j.status IN ('queued', 'running')"
                " WHERE c.active = 1 AND a.revoked = 0"
                " AND (:account IS NULL OR c.account_id = :account)"
                " AND (:counter IS NULL OR c.id = :counter) ORDER BY c.account_id, c.id",
                {"account": account_id, "counter": counter_id},
            ) as cur:
                candidates = [
                    PlanCandidate(
                        r[0],
                        r[1],
                        r[2],
                        bool(r[3]),
                        from_ts(r[4]),
                        from_ts(r[5]),
                        dt.date.fromisoformat(r[6]) if r[6] else None,
                        r[7],
                    )
                    for r in await cur.fetchall()
                ]
            decision = choose(candidates, await self._login_days(conn.execute, now))
            run = await conn.execute(  # a run that queued nothing is finished as it starts
                "INSERT INTO sync_runs (trigger, origin, started_at, queued, skipped, finished_at, synced, failed)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    trigger,
                    origin,
                    ts,
                    len(decision.queue),
                    len(decision.skipped_recent) + len(decision.skipped_budget),
                    *((None,) * 3 if decision.queue else (ts, 0, 0)),
                ),
            )
            run_id = int(single(await run.fetchone()))
            await conn.executemany(  # a live job queued meanwhile by a retry or a revocation is kept
                "INSERT INTO jobs (counter_id, account_id, login, cost, status, priority, run_after, planned_for,"
                " trigger, created_at, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [
                    (
                        j.counter_id,
                        j.account_id,
                        j.login,
                        j.cost,
                        JobStatus.QUEUED,
                        priority,
                        to_ts(j.run_after),
                        to_ts(j.planned_for),
                        trigger,
                        ts,
                        run_id,
                    )
                    for j in decision.queue
                ],
            )
            if decision.queue:
                await announce_work(conn, d)
            await conn.executemany(
                "INSERT INTO quota_days (login, day, paced_until) VALUES (?, ?, ?) ON CONFLICT (login, day)"
                " DO UPDATE SET paced_until = excluded.paced_until",
                [(login, quota_day(now)[0], to_ts(moment)) for login, moment in decision.paced_until.items()],
            )
            if boost and priority and decision.already_live:
                await conn.executemany(
                    f"UPDATE jobs SET priority = {d.max('priority', '?')}, run_after = {d.min('run_after', '?')}"
                    " WHERE counter_id = ? AND status = 'queued'",
                    [(priority, ts, cid) for cid, _ in decision.already_live],
                )
        return PlanRows(
            [(j.counter_id, j.account_id) for j in decision.queue],
            decision.skipped_recent,
            decision.already_live,
            skipped_budget=decision.skipped_budget,
            paces=decision.paces,
        )

    # -- each login's day: its quota ------------------------------------------------------
    async def login_days(self, now: dt.datetime) -> dict[str, LoginDay]:
        """Every login of a live account with today's requests, its live jobs' cost and whether
        the server called its day spent (a read: no write lock)."""
        async with self.db.reading() as conn:
            return await self._login_days(conn.execute, now)

    @staticmethod
    async def _login_days(execute: Callable[..., Any], now: dt.datetime) -> dict[str, LoginDay]:
        day, reset = quota_day(now)
        params = {"day": day, "reset": to_ts(reset)}
        found: dict[str, dict[str, Any]] = {}
        async with execute(
            "SELECT a.quota_login, COUNT(c.id) FROM accounts a LEFT JOIN counters c ON c.account_id = a.id"
            " AND c.active = 1 WHERE a.revoked = 0 GROUP BY a.quota_login",
            params,
        ) as cur:
            for login, counters in await cur.fetchall():
                found.setdefault(login, {})["counters"] = counters
        async with execute(
            "SELECT login, requests, spent_until, spent_message, paced_until FROM quota_days WHERE day = :day", params
        ) as cur:
            for login, used, until, message, paced in await cur.fetchall():
                found.setdefault(login, {}).update(
                    used=used, spent_until=from_ts(until), spent_message=message, paced_until=from_ts(paced)
                )
        async with execute(
            "SELECT login, SUM(cost) FROM jobs WHERE status IN ('queued', 'running') AND run_after < :reset"
            " GROUP BY login",
            params,
        ) as cur:
            for login, committed in await cur.fetchall():
                found.setdefault(login, {})["committed"] = committed
        return {login: LoginDay(login, **values) for login, values in found.items()}

    async def add_usage(self, sent: Mapping[tuple[Token, str], int]) -> None:
        """Count requests sent: (token, UTC day) -> how many. Counted against the token's
        account's login; a token no account holds (one being tried) counts for nobody."""
        if not sent:
            return
        async with self.db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO quota_days (login, day, requests) SELECT quota_login, ?, ? FROM accounts"
                " WHERE token = ? ON CONFLICT (login, day) DO UPDATE SET requests = quota_days.requests + excluded.requests",
                [(day, n, token.reveal()) for (token, day), n in sent.items()],
            )

    async def mark_login_spent(
        self, login: str, *, now: dt.datetime, until: dt.datetime, message: str, reason: str
    ) -> int | None:
        """The server said the login's daily quota is spent: remember it until `until`, and
        move its queued jobs there (each would only meet the same answer). Returns how many
        were moved, or None if the login was known to be spent already (nothing to tell)."""
        day, _ = quota_day(now)
        async with self.db.transaction() as conn:
            async with conn.execute(
                "SELECT spent_until FROM quota_days WHERE login = ? AND day = ?", (login, day)
            ) as cur:
                known = await cur.fetchone()
            if known is not None and known[0] is not None and known[0] >= to_ts(until):
                return None
            await conn.execute(
                "INSERT INTO quota_days (login, day, spent_until, spent_message) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (login, day) DO UPDATE SET spent_until = excluded.spent_until,"
                " spent_message = excluded.spent_message",
                (login, day, to_ts(until), message),
            )
            cur = await conn.execute(
                "UPDATE jobs SET run_after = ?, last_error = ? WHERE login = ? AND status = 'queued' AND run_after < ?",
                (to_ts(until), reason, login, to_ts(until)),
            )
            return cur.rowcount

    async def planned_slots(self, schedule: str = "sync") -> list[tuple[str, str]]:
        """(slot, origin) of every planned slot: which process planned which tick."""
        rows = await self.db.fetchall(
            "SELECT slot, origin FROM schedule_slots WHERE schedule = ? ORDER BY slot", (schedule,)
        )
        return [(slot, origin) for slot, origin in rows]

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

    async def _jobs(self, where: str, params: tuple[Any, ...]) -> list[JobRecord]:
        rows = await self.db.fetchall(
            "SELECT j.id, j.counter_id, j.account_id, j.status, j.attempts, j.trigger, j.created_at,"
            " j.started_at, j.finished_at, j.last_error, j.rows, c.name, j.lost"
            f" FROM jobs j JOIN counters c ON c.id = j.counter_id {where}",
            params,
        )
        return [
            JobRecord(
                r[0],
                r[1],
                r[2],
                JobStatus(r[3]),
                r[4],
                Trigger(r[5]),
                at(r[6]),
                from_ts(r[7]),
                from_ts(r[8]),
                r[9],
                r[10],
                r[11],
                r[12],
            )
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
        return int(await self.db.value("SELECT COUNT(*) FROM raw_answers WHERE counter_id = ?", (counter_id,)))

    async def raw_answers(self, counter_id: int) -> list[tuple[str, dict[str, Any]]]:
        """(kind, answer) of the counter's kept raw answers, oldest first, decompressed."""
        rows = await self.db.fetchall(
            "SELECT kind, body, encoding FROM raw_answers WHERE counter_id = ? ORDER BY id", (counter_id,)
        )
        return [(kind, decompress_answer(body, encoding)) for kind, body, encoding in rows]

    async def sampled_days(self, counter_id: int) -> list[dt.date]:
        """The counter's stored days whose figures were estimated from a sample."""
        rows = await self.db.fetchall(
            "SELECT date FROM daily_stats WHERE counter_id = ? AND sampled != 0 ORDER BY date", (counter_id,)
        )
        return [dt.date.fromisoformat(r[0]) for r in rows]

    async def table_counts(self) -> dict[str, int]:
        """Row counts of the main tables (for checks and the benchmarks)."""
        names = ("accounts", "counters", "jobs", "daily_stats", "monthly_stats", "raw_answers", "events")
        return {n: int(await self.db.value(f"SELECT COUNT(*) FROM {n}")) for n in names}

    # -- the shared event log ------------------------------------------------------------
    async def append_events(self, events: Iterable[Event]) -> None:
        batch = [
            (
                to_ts(e.ts),
                e.kind.value,
                e.level.value,
                e.message,
                e.account_id,
                e.counter_id,
                e.job_id,
                e.origin,
                json.dumps(e.data, default=str) if e.data else None,
            )
            for e in events
        ]
        if not batch:
            return
        async with self.db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO events (ts, kind, level, message, account_id, counter_id, job_id, origin, data)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                batch,
            )
            async with conn.execute("SELECT MAX(id) FROM events") as cur:
                newest = single(await cur.fetchone()) or 0
            if newest % 1000 < len(batch):  # now and then, trim the log to its bound
                await conn.execute("DELETE FROM events WHERE id <= ?", (newest - EVENT_LOG_ROWS,))

    async def events_since(self, last_id: int | None, limit: int = 1000) -> list[Event]:
        rows = await self.db.fetchall(
            "SELECT id, ts, kind, level, message, account_id, counter_id, job_id, origin, data"
            " FROM events WHERE id > ? ORDER BY id LIMIT ?",
            (last_id or 0, limit),
        )
        return [
            Event(
                Kind(r[2]),
                r[4],
                level=Level(r[3]),
                ts=at(r[1]),
                account_id=r[5],
                counter_id=r[6],
                job_id=r[7],
                origin=r[8],
                data=json.loads(r[9]) if r[9] else {},
                id=r[0],
            )
            for r in rows
        ]

    async def last_event_id(self) -> int:
        return int(await self.db.value("SELECT COALESCE(MAX(id), 0) FROM events"))


async def _rehome(conn: Any, where: str, params: dict[str, Any]) -> list[tuple[int, int]]:
    """Move the counters matching `where` to their preferred live account (`_PREFERRED_ACCOUNT`)
    where that is another one, their queued jobs along; returns (counter, new account) pairs.
    A counter no live account sees stays where it is (and shows REVOKED)."""
    async with conn.execute(
        f"UPDATE counters SET account_id = ({_PREFERRED_ACCOUNT}) WHERE {where}"
        f" AND COALESCE(({_PREFERRED_ACCOUNT}), account_id) != account_id RETURNING id, account_id",
        params,
    ) as cur:
        moved = [(row[0], row[1]) for row in await cur.fetchall()]
    await conn.executemany(
        "UPDATE jobs SET account_id = :account, login = (SELECT quota_login FROM accounts WHERE id = :account)"
        " WHERE counter_id = :counter AND status = 'queued'",
        [{"account": account, "counter": counter} for counter, account in moved],
    )
    return moved


def quota_day(now: dt.datetime) -> tuple[str, dt.datetime]:
    """The UTC day a moment's requests count in, and when that day's quota resets."""
    today = now.astimezone(dt.UTC).date()
    return today.isoformat(), dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
