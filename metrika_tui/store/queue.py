"""The durable job queue: claim with a lease, fence every write on that lease.

Every method that finishes a job checks `lease_owner` and `status = 'running'` in the
same statement that changes the row, so a worker whose lease expired (and whose job was
claimed again) can no longer write anything: its late result is refused.
"""

from __future__ import annotations

import datetime as dt
import json
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from metrika_tui.jobs import JobStatus, Trigger
from metrika_tui.models import DailyStat, MonthUsers, next_month
from metrika_tui.processes import ProcessId
from metrika_tui.store.backend import AnyDatabase
from metrika_tui.store.db import SlotTaken, StoreError
from metrika_tui.store.dialect import Dialect
from metrika_tui.store.rows import ClaimedJob, HeldJob, from_ts, to_ts
from metrika_tui.tokens import Token

#: a lease ended because its holder died is dated this much before the moment it was found,
#: so a claim at that same moment (`lease_expires_at < now`) already takes it
LEASE_EPSILON = 0.001

#: what a claim sets: the job running, under this worker's lease (every claim below)
_TAKE = """status = 'running', lease_owner = :owner, lease_expires_at = :expires, started_at = :now,
       owner_host_id = :host_id, owner_pid = :pid, owner_started = :started, heartbeat_at = :now"""

#: The most urgent runnable job of a login under its limit (Metrika's 3 in flight are the
#: login's, shared by its accounts: jobs carry their account's quota login). Logins at their limit are
#: found once (`full`), then each kind of runnable job is walked in claim order along the
#: partial index and the walk stops at the first job of another account: with 100,000
#: queued jobs a claim reads a few rows, not all of them (a correlated count per queued
#: job, sorted afterwards, took ~10 ms per 10,000 queued jobs, under the write lock).
#: Each `status IN ('queued', 'running')` repeats the partial index's own WHERE: SQLite uses
#: a partial index only when the query implies that condition word for word.
_CLAIM = f"""
WITH full AS (
    SELECT login FROM jobs
     WHERE status IN ('queued', 'running') AND status = 'running' AND lease_expires_at >= :now
     GROUP BY login HAVING COUNT(*) >= :limit
), revoked AS (
    SELECT id FROM accounts WHERE revoked != 0
), runnable AS (
    SELECT * FROM (SELECT id, priority, run_after FROM jobs
                    WHERE status IN ('queued', 'running') AND status = 'queued' AND run_after <= :now
                      AND login NOT IN full AND account_id NOT IN revoked
                    ORDER BY priority DESC, run_after, id LIMIT 1)
    UNION ALL                              -- an expired lease: its holder died (lost, not a try)
    SELECT * FROM (SELECT id, priority, run_after FROM jobs
                    WHERE status IN ('queued', 'running') AND status = 'running' AND lease_expires_at < :now
                      AND login NOT IN full AND account_id NOT IN revoked
                    ORDER BY priority DESC, run_after, id LIMIT 1)
)
UPDATE jobs
   SET {_TAKE},
       lost = lost + (status = 'running')
 WHERE id = (SELECT id FROM runnable ORDER BY priority DESC, run_after, id LIMIT 1)
RETURNING id, counter_id, account_id, attempts, trigger, login, deferrals, lost
"""

#: PostgreSQL: what a claim hands back (both claims below)
_PG_CLAIMED = (
    "jobs.id, jobs.counter_id, jobs.account_id, jobs.attempts, jobs.trigger, jobs.login, jobs.deferrals, jobs.lost"
)
_PG_LIVE_ACCOUNT = "NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = j.account_id AND a.revoked != 0)"

#: PostgreSQL, first: a job whose lease ran out (its holder died: lost, not a try). It keeps the
#: login slot it holds. Running jobs are few (workers x hosts): this is an index lookup.
_PG_CLAIM_EXPIRED = f"""
UPDATE jobs SET {_TAKE}, lost = lost + 1
 WHERE id = (SELECT j.id FROM jobs j
              WHERE j.status IN ('queued', 'running') AND j.status = 'running' AND j.lease_expires_at < :now
                AND {_PG_LIVE_ACCOUNT}
              ORDER BY j.priority DESC, j.run_after, j.id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING {_PG_CLAIMED}
"""

#: PostgreSQL, else: the most urgent queued job whose login has a free slot (1..limit; a login
#: with none gives no row to the lateral join, so its jobs are passed over), taken
#: with the lease and the slot in ONE statement. Rows other claims hold are skipped (SKIP
#: LOCKED: hosts never queue up behind each other). Two hosts that pick the same free slot of a
#: login at once cannot both keep it: the unique index (login, login_slot) WHERE running
#: refuses the second (`SlotTaken`), which claims again and sees the first.
_PG_CLAIM_QUEUED = f"""
UPDATE jobs SET {_TAKE}, login_slot = c.slot
  FROM (SELECT j.id, f.slot FROM jobs j
         CROSS JOIN LATERAL (SELECT s AS slot FROM generate_series(1, :limit) AS s
                              WHERE NOT EXISTS (SELECT 1 FROM jobs r WHERE r.status = 'running'
                                                   AND r.login = j.login AND r.login_slot = s)
                              LIMIT 1) AS f  -- the lowest free one: the series comes in order
         WHERE j.status IN ('queued', 'running') AND j.status = 'queued' AND j.run_after <= :now
           AND {_PG_LIVE_ACCOUNT}
         ORDER BY j.priority DESC, j.run_after, j.id LIMIT 1 FOR UPDATE OF j SKIP LOCKED) AS c
 WHERE jobs.id = c.id
RETURNING {_PG_CLAIMED}
"""
#: claims refused by a slot another host took at the same moment, before giving up this turn
CLAIM_RETRIES = 5

_FENCE = "id = ? AND lease_owner = ? AND status = 'running'"

#: the sync runs of these jobs (a JSON list of ids) that have no live job left are finished:
#: their end is their last job's, and their figures are final
_FINISH_RUNS = """
UPDATE sync_runs
   SET finished_at = (SELECT MAX(finished_at) FROM jobs WHERE run_id = sync_runs.id),
       synced = (SELECT COUNT(*) FROM jobs WHERE run_id = sync_runs.id AND status = 'done'),
       failed = (SELECT COUNT(*) FROM jobs WHERE run_id = sync_runs.id AND status = 'failed')
 WHERE finished_at IS NULL
   AND id IN (SELECT run_id FROM jobs WHERE id IN {jobs})
   AND NOT EXISTS (SELECT 1 FROM jobs WHERE run_id = sync_runs.id AND status IN ('queued', 'running'))
"""


class QueueStore:
    """Queue operations; mixed into Store, which provides `self.db`."""

    db: AnyDatabase

    async def claim_next_job(
        self,
        owner: str,
        now: dt.datetime,
        lease_seconds: float,
        per_login_limit: int,
        *,
        process: ProcessId | None = None,
    ) -> ClaimedJob | None:
        """Atomically take the most urgent runnable job whose login is under its limit.

        `process` is the lease's holder, so that a process on its host can tell when it died
        (without one, only the lease's running out says so)."""
        params = {
            "owner": owner,
            "now": to_ts(now),
            "expires": to_ts(now) + lease_seconds,
            "limit": per_login_limit,
            "host_id": process.host_id if process else None,
            "pid": process.pid if process else None,
            "started": process.started if process else None,
        }
        claimed = None
        for _ in range(CLAIM_RETRIES if self.db.dialect.is_postgres else 1):
            try:
                claimed = await self._claim(params)
            except SlotTaken:
                continue  # another host took that slot of the login a moment ago: look again
            break
        if claimed is None:
            return None
        (
            (job_id, counter_id, account_id, attempts, trigger, login, deferrals, lost),
            (
                token,
                time_zone,
                last_day,
                offset,
            ),
        ) = claimed
        return ClaimedJob(
            id=job_id,
            counter_id=counter_id,
            account_id=account_id,
            attempts=attempts,
            trigger=Trigger(trigger),
            lease_owner=owner,
            token=Token(token),
            time_zone=time_zone,
            last_fetched_day=dt.date.fromisoformat(last_day) if last_day else None,
            login=login,
            deferrals=deferrals,
            time_zone_offset=offset,
            lost=lost,
        )

    async def _claim(self, params: dict[str, Any]) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
        """One claim transaction: the job's row, and its account's token and counter's zone."""
        async with self.db.transaction() as conn:
            row = None
            if self.db.dialect.is_postgres:
                for sql in (_PG_CLAIM_EXPIRED, _PG_CLAIM_QUEUED):
                    async with conn.execute(sql, params) as cur:
                        if (row := await cur.fetchone()) is not None:
                            break
            else:
                async with conn.execute(_CLAIM, params) as cur:
                    row = await cur.fetchone()
            if row is None:
                return None
            async with conn.execute(  # the job's account's token (a shared counter may have moved)
                "SELECT a.token, c.time_zone, c.last_fetched_day, c.time_zone_offset FROM counters c"
                " JOIN accounts a ON a.id = ? WHERE c.id = ?",
                (row[2], row[1]),
            ) as cur:
                found = await cur.fetchone()
            if found is None:  # its counter is gone: the claim is rolled back
                raise StoreError(f"job {row[0]}: its counter {row[1]} is not in the database")
        return tuple(row), tuple(found)

    async def has_claimable(self, now: dt.datetime) -> bool:
        """A cheap read (no write lock): is any job runnable now? Idle workers ask this first."""
        return bool(
            await self.db.value(
                "SELECT EXISTS (SELECT 1 FROM jobs WHERE (status = 'queued' AND run_after <= :now)"
                " OR (status = 'running' AND lease_expires_at < :now))",
                {"now": to_ts(now)},
            )
        )

    async def renew_leases(self, jobs: Sequence[ClaimedJob], now: dt.datetime, lease_seconds: float) -> set[int]:
        """The heartbeat: extend the leases of these jobs that are still ours, in one statement.
        Returns the ids renewed (a job missing was taken over: its lease had run out)."""
        if not jobs:
            return set()
        held = json.dumps([[job.id, job.lease_owner] for job in jobs])
        async with (
            self.db.transaction() as conn,
            conn.execute(
                "UPDATE jobs SET lease_expires_at = :expires, heartbeat_at = :now"
                " WHERE status = 'running' AND (id, lease_owner) IN"
                f" (SELECT id, owner FROM {self.db.dialect.pairs(':held')} AS held) RETURNING id",
                {"expires": to_ts(now) + lease_seconds, "now": to_ts(now), "held": held},
            ) as cur,
        ):
            return {row[0] for row in await cur.fetchall()}

    async def renew_lease(self, job: ClaimedJob, now: dt.datetime, lease_seconds: float) -> bool:
        return job.id in await self.renew_leases([job], now, lease_seconds)

    async def lease_holders(self, host_id: str, now: dt.datetime) -> list[tuple[int, float | None, int]]:
        """(pid, start time, leases) of every process on host `host_id` holding a live lease."""
        rows = await self.db.fetchall(
            "SELECT owner_pid, owner_started, COUNT(*) FROM jobs WHERE status IN ('queued', 'running')"
            " AND status = 'running' AND owner_host_id = ? AND lease_expires_at >= ?"
            " GROUP BY owner_pid, owner_started",
            (host_id, to_ts(now)),
        )
        return [(pid, started, leases) for pid, started, leases in rows]

    async def expire_leases_of(self, host_id: str, pid: int, started: float | None, now: dt.datetime) -> int:
        """End now the leases of a process found dead (`lease_holders`): its jobs are claimed
        again at once, as expired leases. Returns how many."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE jobs SET lease_expires_at = :gone WHERE status IN ('queued', 'running')"
                " AND status = 'running' AND owner_host_id = :host AND owner_pid = :pid"
                f" AND owner_started {self.db.dialect.same_as} :started AND lease_expires_at >= :gone",
                {"gone": to_ts(now) - LEASE_EPSILON, "host": host_id, "pid": pid, "started": started},
            )
            return cur.rowcount

    async def held_jobs(self) -> list[HeldJob]:
        """Running jobs (a few: workers x processes) with who holds them: what a pass waits for
        when none of its own runs, and what `sync-status` says of a job whose holder stopped."""
        rows = await self.db.fetchall(
            "SELECT id, counter_id, account_id, lease_owner, owner_host_id, owner_pid, owner_started,"
            " lease_expires_at, heartbeat_at FROM jobs WHERE status IN ('queued', 'running') AND status = 'running'"
        )
        return [HeldJob(r[0], r[1], r[2], r[3] or "", r[4], r[5], r[6], from_ts(r[7]), from_ts(r[8])) for r in rows]

    async def record_fetch(
        self,
        job: ClaimedJob,
        *,
        now: dt.datetime,
        daily: Sequence[DailyStat],
        month_users: Sequence[MonthUsers],
        raw_pages: Sequence[tuple[str, dict[str, Any]]],
        newest_day: dt.date,
        keep_raw: int = 3,
        sample_share: float | None = None,
    ) -> bool:
        """Store a finished fetch and complete the job in ONE transaction, if the lease is ours.

        Daily rows are upserted (a retried job changes nothing), the months touched are
        re-aggregated (users at month grain from the API; rates visit-weighted), and only
        then does the counter's last_fetched_at move. `sample_share`: the figures were sampled
        (that share of visits): the days, their months and the counter are marked so. Raw answers are kept
        compressed (zlib: about a tenth of their JSON, see docs/reliability.md).
        """
        ts, d = to_ts(now), self.db.dialect
        newest = d.max("COALESCE(last_fetched_day, '')", "?")
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                f"UPDATE jobs SET status = ?, finished_at = ?, rows = ?, last_error = NULL,"
                f" lease_owner = NULL, lease_expires_at = NULL WHERE {_FENCE}",
                (JobStatus.DONE, ts, len(daily), job.id, job.lease_owner),
            )
            if cur.rowcount != 1:
                return False  # our lease is gone: someone else owns this job now
            await conn.executemany(
                "INSERT INTO daily_stats (counter_id, date, visits, users, pageviews, bounce_rate,"
                " avg_visit_duration, fetched_at, sampled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (counter_id, date) DO UPDATE SET visits = excluded.visits,"
                " users = excluded.users, pageviews = excluded.pageviews,"
                " bounce_rate = excluded.bounce_rate, avg_visit_duration = excluded.avg_visit_duration,"
                " fetched_at = excluded.fetched_at, sampled = excluded.sampled",
                [
                    (
                        job.counter_id,
                        d.date.isoformat(),
                        d.visits,
                        d.users,
                        d.pageviews,
                        d.bounce_rate,
                        d.avg_visit_duration,
                        ts,
                        int(sample_share is not None),
                    )
                    for d in daily
                ],
            )
            await conn.executemany(
                "INSERT INTO monthly_stats (counter_id, month, visits, users, pageviews, bounce_rate,"
                " avg_visit_duration, days, updated_at, sampled)"
                " SELECT :counter, :month, COALESCE(SUM(visits), 0), :users, COALESCE(SUM(pageviews), 0),"
                "   COALESCE(SUM(bounce_rate * visits) / NULLIF(SUM(visits), 0), 0),"
                "   COALESCE(SUM(avg_visit_duration * visits) / NULLIF(SUM(visits), 0), 0),"
                f"   COUNT(*), :now, {d.max('COALESCE(MAX(sampled), 0)', ':sampled')}"
                " FROM daily_stats WHERE counter_id = :counter AND date >= :month AND date < :next"
                " ON CONFLICT (counter_id, month) DO UPDATE SET visits = excluded.visits,"
                " users = excluded.users, pageviews = excluded.pageviews,"
                " bounce_rate = excluded.bounce_rate, avg_visit_duration = excluded.avg_visit_duration,"
                " days = excluded.days, updated_at = excluded.updated_at, sampled = excluded.sampled",
                [
                    {
                        "counter": job.counter_id,
                        "month": m.month.isoformat(),
                        "users": m.users,
                        "now": ts,
                        "next": next_month(m.month).isoformat(),
                        "sampled": int(sample_share is not None),
                    }
                    for m in month_users
                ],
            )
            await conn.executemany(
                "INSERT INTO raw_answers (counter_id, job_id, kind, fetched_at, body, encoding)"
                " VALUES (?, ?, ?, ?, ?, 'zlib')",
                [(job.counter_id, job.id, kind, ts, compress_answer(body)) for kind, body in raw_pages],
            )
            await conn.execute(  # keep the raw answers of the last few syncs only
                "DELETE FROM raw_answers WHERE counter_id = ? AND job_id NOT IN"
                " (SELECT DISTINCT job_id FROM raw_answers WHERE counter_id = ? ORDER BY job_id DESC LIMIT ?)",
                (job.counter_id, job.counter_id, keep_raw),
            )
            await conn.execute(
                "UPDATE counters SET last_fetched_at = ?, last_attempt_at = ?, last_error = NULL,"
                f" last_fetched_day = {newest}, sample_share = ?,"
                " synced_for = (SELECT planned_for FROM jobs WHERE id = ?) WHERE id = ?",
                (ts, ts, newest_day.isoformat(), sample_share, job.id, job.counter_id),
            )
            await finish_runs(conn, d, [job.id])
        return True

    async def retry_job(
        self, job: ClaimedJob, *, now: dt.datetime, run_after: dt.datetime, error: str, max_attempts: int
    ) -> JobStatus | None:
        """A failed try: back to the queue with a delay, or failed for good after the last one.

        Returns QUEUED, FAILED, or None (the lease was no longer ours).
        """
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                f"UPDATE jobs SET attempts = attempts + 1, last_error = ?,"
                f" status = CASE WHEN attempts + 1 >= ? THEN ? ELSE ? END,"
                f" run_after = ?, finished_at = CASE WHEN attempts + 1 >= ? THEN ? END,"
                f" lease_owner = NULL, lease_expires_at = NULL WHERE {_FENCE} RETURNING status",
                (
                    error,
                    max_attempts,
                    JobStatus.FAILED,
                    JobStatus.QUEUED,
                    to_ts(run_after),
                    max_attempts,
                    to_ts(now),
                    job.id,
                    job.lease_owner,
                ),
            )
            row = await cur.fetchone()
            if row is None:
                return None
            status = JobStatus(row[0])
            await conn.execute(
                "UPDATE counters SET last_attempt_at = ?, last_error = CASE WHEN ? THEN ? ELSE last_error END"
                " WHERE id = ?",
                (to_ts(now), status is JobStatus.FAILED, error, job.counter_id),
            )
            if status is JobStatus.FAILED:
                await finish_runs(conn, self.db.dialect, [job.id])
            else:
                await announce_work(conn, self.db.dialect)
            return status

    async def defer_job(self, job: ClaimedJob, *, run_after: dt.datetime, reason: str, counted: bool = False) -> bool:
        """Back to the queue until `run_after` without counting an attempt (quota waits);
        `counted`: one more deferral of unknown reset (those are capped)."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                f"UPDATE jobs SET status = ?, run_after = ?, last_error = ?, deferrals = deferrals + ?,"
                f" lease_owner = NULL, lease_expires_at = NULL WHERE {_FENCE}",
                (JobStatus.QUEUED, to_ts(run_after), reason, int(counted), job.id, job.lease_owner),
            )
            return cur.rowcount == 1

    async def fail_job(self, job: ClaimedJob, *, now: dt.datetime, error: str, count_attempt: bool = True) -> bool:
        """Give up on the job now (a bad request, no access): the error stays visible.
        `count_attempt=False`: it was not tried (its workers kept dying: `lost`)."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                f"UPDATE jobs SET status = ?, attempts = attempts + ?, last_error = ?,"
                f" finished_at = ?, lease_owner = NULL, lease_expires_at = NULL WHERE {_FENCE}",
                (JobStatus.FAILED, int(count_attempt), error, to_ts(now), job.id, job.lease_owner),
            )
            if cur.rowcount != 1:
                return False
            await conn.execute(
                "UPDATE counters SET last_attempt_at = ?, last_error = ? WHERE id = ?",
                (to_ts(now), error, job.counter_id),
            )
            await finish_runs(conn, self.db.dialect, [job.id])
            return True

    async def release_job(self, job: ClaimedJob, *, now: dt.datetime) -> bool:
        """Give the lease back untouched (shutting down): claimable again at once."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                f"UPDATE jobs SET status = ?, run_after = ?, lease_owner = NULL,"
                f" lease_expires_at = NULL WHERE {_FENCE}",
                (JobStatus.QUEUED, to_ts(now), job.id, job.lease_owner),
            )
            if cur.rowcount != 1:
                return False
            await announce_work(conn, self.db.dialect)
            return True

    async def requeue_failed(self, now: dt.datetime, counter_id: int | None = None) -> int:
        """Retry failed counters: a fresh queued job for each (attempts start again)."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO jobs (counter_id, account_id, login, status, priority, run_after,"
                " planned_for, trigger, created_at)"
                " SELECT c.id, c.account_id, a.quota_login, :queued, 10, :now, :now, :trigger, :now"
                " FROM counters c JOIN accounts a ON a.id = c.account_id"
                " WHERE c.last_error IS NOT NULL AND c.active = 1 AND a.revoked = 0"
                " AND (:counter IS NULL OR c.id = :counter) ON CONFLICT DO NOTHING",
                {"now": to_ts(now), "counter": counter_id, "queued": JobStatus.QUEUED, "trigger": Trigger.RETRY},
            )
            if cur.rowcount:
                await announce_work(conn, self.db.dialect)
            return cur.rowcount

    async def live_counter_ids(self, counter_ids: Iterable[int] | None = None) -> set[int]:
        rows = await self.db.fetchall("SELECT counter_id FROM jobs WHERE status IN ('queued', 'running')")
        live = {r[0] for r in rows}
        return live if counter_ids is None else live & set(counter_ids)

    async def next_run_after(self) -> dt.datetime | None:
        """When the earliest waiting job may run (to sleep until then, not poll)."""
        row = await self.db.fetchone("SELECT MIN(run_after) FROM jobs WHERE status = 'queued'")
        return None if row is None or row[0] is None else dt.datetime.fromtimestamp(row[0], dt.UTC)

    async def queue_depth(self) -> int:
        return int(await self.db.value("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')"))

    async def running_per_account(self, now: dt.datetime) -> dict[int, int]:
        rows = await self.db.fetchall(
            "SELECT account_id, COUNT(*) FROM jobs WHERE status = 'running' AND lease_expires_at >= ?"
            " GROUP BY account_id",
            (to_ts(now),),
        )
        return {account_id: running for account_id, running in rows}


async def finish_runs(conn: Any, dialect: Dialect, job_ids: Sequence[int]) -> None:
    """Inside a transaction that settled these jobs: finish the sync runs they ended."""
    await conn.execute(_FINISH_RUNS.format(jobs=dialect.ids(":jobs")), {"jobs": json.dumps(list(job_ids))})


async def announce_work(conn: Any, dialect: Dialect) -> None:
    """Inside a transaction that queued jobs: tell the workers of every process (PostgreSQL's
    NOTIFY, sent when the transaction commits; SQLite's workers poll)."""
    if dialect.notify_work:
        await conn.execute(dialect.notify_work)


def compress_answer(body: dict[str, Any]) -> bytes:
    """An answer as stored in raw_answers: its compact JSON, zlib-compressed."""
    return zlib.compress(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(), 6)


def decompress_answer(body: bytes | str, encoding: str) -> dict[str, Any]:
    """A raw_answers row back as the answer (rows from before compression are plain JSON)."""
    answer: dict[str, Any] = json.loads(
        zlib.decompress(body) if isinstance(body, bytes) and encoding == "zlib" else body
    )
    return answer
