"""What one job does: read a counter's recent days, store them, and settle the job.

What it reads is `window`'s: the days since its last fetched day minus a look-back, in as
few report requests as the months touched allow (a month's users from the answer's totals).
Errors are settled by kind: transient -> back off; quota -> wait without burning an attempt
(a login's spent day moves all its jobs to the reset; a quota of unknown reset backs off,
doubling, and is capped); dead token -> revoke the account; bad request or no access ->
fail with the API's message.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

from metrika_tui.clock import Clock
from metrika_tui.engine.events import EventBus
from metrika_tui.engine.ports import MetrikaApi
from metrika_tui.engine.window import fetch_window, window_requests
from metrika_tui.events import Kind, Level
from metrika_tui.jobs import JobStatus, Settled
from metrika_tui.metrika import parse
from metrika_tui.metrika.errors import AuthError, BadAnswer, MetrikaError, QuotaError, RequestError
from metrika_tui.metrika.parse import MalformedAnswer, next_utc_midnight
from metrika_tui.models import DailyStat, MonthUsers, Report, ReportRequest, month_start
from metrika_tui.settings import Settings
from metrika_tui.store import ClaimedJob, Store

#: the job a worker task is running, so client-level retries can be told per counter
current_job: contextvars.ContextVar[ClaimedJob | None] = contextvars.ContextVar("current_job", default=None)

#: how long a transient failure waits in the queue: base * 2^attempt, jittered, capped
QUEUE_BACKOFF_BASE = 5.0
QUEUE_BACKOFF_MAX = 600.0
#: how long a job waits for a short quota (per second, parallel) the client's retries outlasted
SHORT_QUOTA_WAIT = 5.0
#: a quota answer of unknown reset waits this long, doubling with each one, at most UNKNOWN_QUOTA_MAX
UNKNOWN_QUOTA_WAIT = dt.timedelta(minutes=1)
UNKNOWN_QUOTA_MAX = dt.timedelta(hours=1)
USERS = "ym:s:users"


@dataclass(frozen=True, slots=True)
class JobResult:
    ok: bool
    status: Settled
    rows: int = 0
    error: str | None = None
    #: queued again: when it may run; for a quota, its error_type and the words that came with it
    run_after: dt.datetime | None = None
    quota: str | None = None
    quota_message: str | None = None


class JobIds(TypedDict):
    """Whom a job's events are about: the keywords `EventBus.emit` takes."""

    counter_id: int
    account_id: int
    job_id: int


def queue_backoff(attempts: int) -> float:
    """Seconds before a transient failure is tried again from the queue (full jitter)."""
    return random.uniform(0.5, 1.0) * min(QUEUE_BACKOFF_MAX, QUEUE_BACKOFF_BASE * 2.0**attempts)


async def run_job(
    job: ClaimedJob, *, store: Store, client: MetrikaApi, settings: Settings, clock: Clock, bus: EventBus
) -> JobResult:
    """Fetch, store and settle one claimed job. Never raises for API or quota trouble."""
    ids: JobIds = {"counter_id": job.counter_id, "account_id": job.account_id, "job_id": job.id}
    started = time.monotonic()
    date1, date2 = fetch_window(job.last_fetched_day, job.time_zone, settings, clock.now(), offset=job.time_zone_offset)
    requests = window_requests(date1, date2, settings.month_users)
    bus.emit(
        Kind.STARTED,
        f"fetching {date1}..{date2}" + (f" (try {job.attempts + 1})" if job.attempts else ""),
        level=Level.DEBUG if not job.attempts else Level.INFO,
        **ids,
    )
    token = current_job.set(job)
    try:
        reports = await client.read_window(job.token, job.counter_id, requests, login=job.login or None)
        daily, months = combine(requests, reports)
        bus.emit(
            Kind.FETCHED,
            f"{len(daily)} daily rows ({sum(len(r.raw_pages) for r in reports)} page(s))",
            level=Level.DEBUG,
            **ids,
        )
    except QuotaError as exc:
        return await _settle_quota(job, exc, store=store, settings=settings, clock=clock, bus=bus, ids=ids)
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

    raw = [
        ("monthly" if request.grain == "month" else "daily", page)
        for request, report in zip(requests, reports)
        for page in report.raw_pages
    ]
    sampled_reports = [report.sample_share for report in reports if report.sampled]
    share = min(sampled_reports) if sampled_reports else None
    recorded = await store.record_fetch(
        job,
        now=clock.now(),
        daily=daily,
        month_users=months,
        raw_pages=raw,
        newest_day=date2,
        sample_share=share,
    )
    if not recorded:
        bus.emit(
            Kind.WARNING,
            "lease lost before the result was written; another worker owns the job",
            level=Level.WARNING,
            **ids,
        )
        return JobResult(False, Settled.LOST, error="lease lost")
    ms = (time.monotonic() - started) * 1000
    sampled = f"; figures sampled ({share:.0%} of visits), marked so" if share is not None else ""
    bus.emit(
        Kind.DONE,
        f"in sync: {len(daily)} days, {len(months)} month(s) in {ms:.0f} ms"
        f" ({len(reports)} request{'s' * (len(reports) != 1)}){sampled}",
        data={
            "rows": len(daily),
            "ms": round(ms),
            "requests": len(reports),
            **({"sample_share": share} if sampled else {}),
        },
        level=Level.WARNING if sampled else Level.INFO,
        **ids,
    )
    return JobResult(True, Settled.DONE, rows=len(daily))


def combine(requests: Sequence[ReportRequest], reports: Sequence[Report]) -> tuple[list[DailyStat], list[MonthUsers]]:
    """The daily rows of a window's reports, and each month's users: from the month-grain
    report if one was read, else from the totals of each month's own daily report (the
    users of its range, each counted once). A month without visits has no users row."""
    daily: list[DailyStat] = []
    months: list[MonthUsers] = []
    by_month = not any(r.grain == "month" for r in requests)
    for request, report in zip(requests, reports):
        if request.grain == "month":
            months.extend(report.rows)
            continue
        daily.extend(report.rows)
        if by_month and report.rows:
            if USERS not in report.totals:
                raise MalformedAnswer("the report has no users total for its month")
            users = parse.count_of(report.totals[USERS], f"the users total of {request.date1:%Y-%m}")
            months.append(MonthUsers(month_start(request.date1), users))
    return daily, months


async def _settle_quota(
    job: ClaimedJob,
    exc: QuotaError,
    *,
    store: Store,
    settings: Settings,
    clock: Clock,
    bus: EventBus,
    ids: JobIds,
) -> JobResult:
    now = clock.now()
    counted = False
    if exc.short:
        # a per-second or parallel quota frees up in seconds: outlasting the client's quick retries
        # (several processes on one address) is no reason to wait a minute
        retry_at = exc.retry_at or now + dt.timedelta(seconds=random.uniform(0.5, 1.0) * SHORT_QUOTA_WAIT)
    elif exc.reset_known and exc.retry_at is not None:
        retry_at = exc.retry_at
    else:  # nobody knows when it frees: back off, doubling, and give up after a few
        if job.deferrals + 1 > settings.max_deferrals:
            error = f"gave up after {job.deferrals} quota answers of unknown reset: {exc.message}"
            return await _settle_failure(job, error, store, clock, bus, ids)
        backoff = min(UNKNOWN_QUOTA_MAX, UNKNOWN_QUOTA_WAIT * 2**job.deferrals)
        retry_at = max(exc.retry_at or now, now + backoff)
        counted = True
    reason = f"quota {exc.error_type or 'exceeded'}: waiting until {retry_at:%H:%M:%S} UTC"
    if exc.daily and job.login:  # the login's day is spent: its other jobs would only hear the same
        until = exc.retry_at or next_utc_midnight(now)
        moved = await store.mark_login_spent(job.login, now=now, until=until, message=exc.message, reason=reason)
        if moved is not None:  # told once, by the first job to hear it
            bus.emit(
                Kind.WARNING,
                f"daily quota of login {job.login} is spent (the API says: {exc.message});"
                f" {moved + 1} job(s) wait until {until:%H:%M} UTC, and planning adapts",
                level=Level.WARNING,
                **ids,
            )
    if await store.defer_job(job, run_after=retry_at, reason=reason, counted=counted):
        bus.emit(Kind.DEFERRED, reason, level=Level.WARNING, **ids)
        return JobResult(
            False,
            Settled.QUEUED,
            error=reason,
            run_after=retry_at,
            quota=exc.error_type or "quota",
            quota_message=exc.message,
        )
    return JobResult(False, Settled.LOST, error="lease lost")


async def _settle_auth(
    job: ClaimedJob, exc: AuthError, *, store: Store, clock: Clock, bus: EventBus, ids: JobIds
) -> JobResult:
    if exc.token_dead:
        reason = f"token rejected by Metrika: {exc.message}"
        if await store.revoke_account(job.account_id, reason=reason, now=clock.now(), only_if_active=True):
            bus.emit(
                Kind.REVOKED, f"account {job.account_id} revoked: {reason}; its jobs stopped", level=Level.ERROR, **ids
            )
        return JobResult(False, Settled.REVOKED, error=reason)
    return await _settle_failure(job, f"no access to this counter: {exc.message}", store, clock, bus, ids)


async def _settle_failure(
    job: ClaimedJob, error: str, store: Store, clock: Clock, bus: EventBus, ids: JobIds
) -> JobResult:
    if await store.fail_job(job, now=clock.now(), error=error):
        bus.emit(Kind.FAILED, error, level=Level.ERROR, **ids)
        return JobResult(False, Settled.FAILED, error=error)
    return JobResult(False, Settled.LOST, error="lease lost")


async def _settle_transient(
    job: ClaimedJob, error: str, *, store: Store, settings: Settings, clock: Clock, bus: EventBus, ids: JobIds
) -> JobResult:
    now = clock.now()
    run_after = now + dt.timedelta(seconds=queue_backoff(job.attempts))
    status = await store.retry_job(job, now=now, run_after=run_after, error=error, max_attempts=settings.max_attempts)
    if status is JobStatus.FAILED:
        message = f"gave up after {settings.max_attempts} attempts: {error}"
        bus.emit(Kind.FAILED, message, level=Level.ERROR, **ids)
        return JobResult(False, Settled.FAILED, error=error)
    if status is JobStatus.QUEUED:
        bus.emit(
            Kind.RETRYING,
            f"{error}; try {job.attempts + 2} of {settings.max_attempts} in {(run_after - now).total_seconds():.0f}s",
            level=Level.WARNING,
            **ids,
        )
        return JobResult(False, Settled.QUEUED, error=error, run_after=run_after)
    return JobResult(False, Settled.LOST, error="lease lost")
