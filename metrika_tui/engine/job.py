"""What one job does: read a counter's recent days, store them, and settle the job.

The window runs from the last fetched day minus a look-back (the newest days are not final)
or, on a first sync, from the backfill start, through today in the counter's own time zone.
Errors are settled by kind: transient -> back off, quota -> wait without burning an
attempt, dead token -> revoke the account, bad request or no access -> fail with the
API's message.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import random
import time
from dataclasses import dataclass

from metrika_tui.engine.events import EventBus, Kind, Level
from metrika_tui.engine.ports import Clock, MetrikaApi
from metrika_tui.metrika.errors import AuthError, BadAnswer, MetrikaError, QuotaError, RequestError
from metrika_tui.models import counter_zone, month_start
from metrika_tui.settings import Settings
from metrika_tui.store import ClaimedJob, Store

#: the job a worker task is running, so client-level retries can be told per counter
current_job: contextvars.ContextVar[ClaimedJob | None] = contextvars.ContextVar("current_job", default=None)

#: how long a transient failure waits in the queue: base * 2^attempt, jittered, capped
QUEUE_BACKOFF_BASE = 5.0
QUEUE_BACKOFF_MAX = 600.0
#: how long a job waits for a short quota (per second, parallel) the client's retries outlasted
SHORT_QUOTA_WAIT = 5.0


@dataclass(frozen=True, slots=True)
class JobResult:
    ok: bool
    status: str  # done | queued (retry or deferred) | failed | revoked | lost
    rows: int = 0
    error: str | None = None
    #: queued again: when it may run; for a quota, its error_type and the words that came with it
    run_after: dt.datetime | None = None
    quota: str | None = None
    quota_message: str | None = None


def fetch_window(job: ClaimedJob, settings: Settings, now: dt.datetime) -> tuple[dt.date, dt.date]:
    """The days to read, in the counter's own time zone.

    The start is moved back to the first of its month, so every month touched is read
    whole and its aggregate (users from the API for the whole month) matches its days.
    A zone this machine does not know is the fixed offset the API gave with it.
    """
    today = now.astimezone(counter_zone(job.time_zone, job.time_zone_offset)).date()
    if job.last_fetched_day is None:
        start = today - dt.timedelta(days=settings.backfill_days - 1)
    else:
        start = min(job.last_fetched_day, today) - dt.timedelta(days=settings.lookback_days)
    return month_start(start), today


def queue_backoff(attempts: int) -> float:
    """Seconds before a transient failure is tried again from the queue (full jitter)."""
    return random.uniform(0.5, 1.0) * min(QUEUE_BACKOFF_MAX, QUEUE_BACKOFF_BASE * 2**attempts)


async def run_job(
    job: ClaimedJob, *, store: Store, client: MetrikaApi, settings: Settings, clock: Clock, bus: EventBus
) -> JobResult:
    """Fetch, store and settle one claimed job. Never raises for API or quota trouble."""
    ids = {"counter_id": job.counter_id, "account_id": job.account_id, "job_id": job.id}
    started = time.monotonic()
    date1, date2 = fetch_window(job, settings, clock.now())
    bus.emit(Kind.STARTED, f"fetching {date1}..{date2}" + (f" (try {job.attempts + 1})" if job.attempts else ""),
             level=Level.DEBUG if not job.attempts else Level.INFO, **ids)  # fmt: skip
    token = current_job.set(job)
    try:
        daily = await client.daily_report(job.token, job.counter_id, date1, date2)
        bus.emit(Kind.FETCHED, f"{len(daily.rows)} daily rows ({len(daily.raw_pages)} page(s))",
                 level=Level.DEBUG, **ids)  # fmt: skip
        months = await client.monthly_users(job.token, job.counter_id, date1, date2)
    except QuotaError as exc:
        return await _settle_quota(job, exc, store=store, clock=clock, bus=bus, ids=ids)
    except AuthError as exc:
        return await _settle_auth(job, exc, store=store, clock=clock, bus=bus, ids=ids)
    except RequestError as exc:
        return await _settle_failure(job, f"request refused: {exc.message}", store, clock, bus, ids)
    except BadAnswer as exc:  # nothing of it is stored; asking again would get the same
        return await _settle_failure(job, f"bad answer from Metrika: {exc.message}", store, clock, bus, ids)
    except MetrikaError as exc:  # transient, after the client's own quick retries
        return await _settle_transient(job, str(exc), store=store, settings=settings, clock=clock, bus=bus, ids=ids)
    finally:
        current_job.reset(token)

    raw = [("daily", page) for page in daily.raw_pages] + [("monthly", page) for page in months.raw_pages]
    share = min(daily.sample_share, months.sample_share) if daily.sampled or months.sampled else None
    recorded = await store.record_fetch(
        job, now=clock.now(), daily=daily.rows, month_users=months.rows, raw_pages=raw, newest_day=date2,
        sample_share=share,
    )
    if not recorded:
        bus.emit(Kind.WARNING, "lease lost before the result was written; another worker owns the job",
                 level=Level.WARNING, **ids)  # fmt: skip
        return JobResult(False, "lost", error="lease lost")
    ms = (time.monotonic() - started) * 1000
    sampled = f"; figures sampled ({share:.0%} of visits), marked so" if share is not None else ""
    bus.emit(Kind.DONE, f"in sync: {len(daily.rows)} days, {len(months.rows)} month(s) in {ms:.0f} ms{sampled}",
             data={"rows": len(daily.rows), "ms": round(ms), **({"sample_share": share} if sampled else {})},
             level=Level.WARNING if sampled else Level.INFO, **ids)  # fmt: skip
    return JobResult(True, "done", rows=len(daily.rows))


async def _settle_quota(job, exc: QuotaError, *, store, clock, bus, ids) -> JobResult:
    now = clock.now()
    # a per-second or parallel quota frees up in seconds: outlasting the client's quick retries
    # (several processes on one address) is no reason to wait a minute
    unknown = random.uniform(0.5, 1.0) * SHORT_QUOTA_WAIT if exc.short else 60
    retry_at = exc.retry_at or now + dt.timedelta(seconds=exc.retry_after or unknown)
    reason = f"quota {exc.error_type or 'exceeded'}: waiting until {retry_at:%H:%M:%S} UTC"
    if await store.defer_job(job, run_after=retry_at, reason=reason):
        bus.emit(Kind.DEFERRED, reason, level=Level.WARNING, **ids)
        return JobResult(False, "queued", error=reason, run_after=retry_at, quota=exc.error_type or "quota",
                         quota_message=exc.message)  # fmt: skip
    return JobResult(False, "lost", error="lease lost")


async def _settle_auth(job, exc: AuthError, *, store, clock, bus, ids) -> JobResult:
    if exc.token_dead:
        reason = f"token rejected by Metrika: {exc.message}"
        if await store.revoke_account(job.account_id, reason=reason, now=clock.now(), only_if_active=True):
            bus.emit(Kind.REVOKED, f"account {job.account_id} revoked: {reason}; its jobs stopped",
                     level=Level.ERROR, **ids)  # fmt: skip
        return JobResult(False, "revoked", error=reason)
    return await _settle_failure(job, f"no access to this counter: {exc.message}", store, clock, bus, ids)


async def _settle_failure(job, error: str, store, clock, bus, ids) -> JobResult:
    if await store.fail_job(job, now=clock.now(), error=error):
        bus.emit(Kind.FAILED, error, level=Level.ERROR, **ids)
        return JobResult(False, "failed", error=error)
    return JobResult(False, "lost", error="lease lost")


async def _settle_transient(job, error: str, *, store, settings, clock, bus, ids) -> JobResult:
    now = clock.now()
    run_after = now + dt.timedelta(seconds=queue_backoff(job.attempts))
    status = await store.retry_job(job, now=now, run_after=run_after, error=error,
                                   max_attempts=settings.max_attempts)  # fmt: skip
    if status == "failed":
        message = f"gave up after {settings.max_attempts} attempts: {error}"
        bus.emit(Kind.FAILED, message, level=Level.ERROR, **ids)
        return JobResult(False, "failed", error=error)
    if status == "queued":
        bus.emit(Kind.RETRYING, f"{error}; try {job.attempts + 2} of {settings.max_attempts} "
                 f"in {(run_after - now).total_seconds():.0f}s", level=Level.WARNING, **ids)  # fmt: skip
        return JobResult(False, "queued", error=error, run_after=run_after)
    return JobResult(False, "lost", error="lease lost")
