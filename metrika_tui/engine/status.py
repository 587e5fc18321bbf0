"""The state each counter shows, derived in one place for `sync-status`, the console and JSON.

A state is derived, never stored: from the counter's row, its account, its live job (if
any) and the clock. Priority, highest first: REVOKED, DISABLED, SYNCING, QUEUED, FAILED,
PENDING, OK, OVERDUE.

OVERDUE follows the schedule, not a fixed age: a counter is overdue when the slot that should
have planned it has passed (and a grace for the tick) with nothing queued — or, for a login
whose quota stretches the interval, when its data is older than that stretched cadence and a
slot more. A counter is never OVERDUE while its next slot is still ahead.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter as Tally
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from metrika_tui.jobs import JobStatus


class CounterState(StrEnum):
    PENDING = "pending"  # never synced
    QUEUED = "queued"
    SYNCING = "syncing"
    OK = "ok"  # synced, and its next slot (or stretched cadence) is not past
    OVERDUE = "overdue"  # the slot that should have synced it has passed, nothing queued
    FAILED = "failed"  # the last attempt failed
    DISABLED = "disabled"  # inactive: never planned
    REVOKED = "revoked"  # its account's token is dead

    @property
    def label(self) -> str:
        return self.value.upper()


@dataclass(frozen=True, slots=True)
class CounterStatus:
    """One row of the status report: what a user needs to know about one counter."""

    account_id: int
    account_user_id: str
    account_login: str
    account_revoked: bool
    counter_id: int
    name: str
    site: str
    active: bool
    state: CounterState
    last_fetched_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    next_due_at: dt.datetime | None  # when it will really be synced next (the stretched cadence counted)
    attempts: int
    last_error: str | None
    time_zone: str = "Europe/Moscow"
    overdue_at: dt.datetime | None = None  # from then on, with nothing queued, it is OVERDUE
    #: the last fetch's share of visits when its figures were estimated from a sample
    sample_share: float | None = None
    #: its job is held by a process that stopped (it will be taken back): the words for it
    held_by: str | None = None


def derive_state(
    *,
    active: bool,
    revoked: bool,
    job_status: JobStatus | None,
    last_fetched_at: dt.datetime | None,
    last_error: str | None,
    now: dt.datetime,
    overdue_at: dt.datetime | None,
) -> CounterState:
    """The one rule for a counter's state. `job_status` is its live job's (QUEUED or RUNNING; a
    running job whose holder stopped counts as QUEUED: it waits to be taken back, nothing runs it)."""
    if revoked:
        return CounterState.REVOKED
    if not active:
        return CounterState.DISABLED
    if job_status == JobStatus.RUNNING:
        return CounterState.SYNCING
    if job_status == JobStatus.QUEUED:
        return CounterState.QUEUED
    if last_error:
        return CounterState.FAILED
    if last_fetched_at is None:
        return CounterState.PENDING
    if overdue_at is None or now < overdue_at:
        return CounterState.OK
    return CounterState.OVERDUE


def is_fresh(row: CounterStatus, now: dt.datetime) -> bool:
    """Its data is as fresh as the schedule (and its login's quota) promise."""
    return row.last_fetched_at is not None and (row.overdue_at is None or now < row.overdue_at)


def next_clock_change(rows: Iterable[CounterStatus]) -> dt.datetime | None:
    """The soonest moment a state changes with the clock alone: an OK counter turning OVERDUE
    (every other change comes with an event). None when no state waits on the clock."""
    return min((row.overdue_at for row in rows if row.state is CounterState.OK and row.overdue_at), default=None)


@dataclass(frozen=True, slots=True)
class Summary:
    """The figures at the foot of `sync-status` and in the console's summary line.

    `total` counts the counters that should be synced (active, account not revoked);
    `in_sync` those among them whose data is as fresh as the schedule promises (`is_fresh`),
    whatever their queue state (a counter being refreshed still holds fresh data).
    """

    total: int
    in_sync: int
    pending: int
    overdue: int
    failed: int
    queued: int
    syncing: int
    disabled: int
    revoked: int
    sampled: int = 0  # of `total`: the last fetch's figures were estimated from a sample
    held: int = 0  # of the queued: held by a process that stopped, taken back by the next worker

    @property
    def overall_percent(self) -> int:
        return round(100 * self.in_sync / self.total) if self.total else 100

    def as_dict(self) -> dict[str, int]:
        return {
            "total": self.total,
            "in_sync": self.in_sync,
            "pending": self.pending,
            "overdue": self.overdue,
            "failed": self.failed,
            "queued": self.queued,
            "syncing": self.syncing,
            "disabled": self.disabled,
            "revoked": self.revoked,
            "sampled": self.sampled,
            "held_by_stopped_process": self.held,
            "overall_percent": self.overall_percent,
        }


def summarize(rows: Iterable[CounterStatus], *, now: dt.datetime) -> Summary:
    tally: Tally[CounterState] = Tally()
    total = in_sync = sampled = held = 0
    for row in rows:
        tally[row.state] += 1
        held += row.held_by is not None
        if row.state in (CounterState.DISABLED, CounterState.REVOKED):
            continue
        total += 1
        sampled += row.sample_share is not None
        if is_fresh(row, now):
            in_sync += 1
    return Summary(
        total=total,
        in_sync=in_sync,
        pending=tally[CounterState.PENDING],
        overdue=tally[CounterState.OVERDUE],
        failed=tally[CounterState.FAILED],
        queued=tally[CounterState.QUEUED],
        syncing=tally[CounterState.SYNCING],
        disabled=tally[CounterState.DISABLED],
        revoked=tally[CounterState.REVOKED],
        sampled=sampled,
        held=held,
    )
