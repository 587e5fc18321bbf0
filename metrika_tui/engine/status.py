"""The state each counter shows, derived in one place for `sync-status`, the console and JSON.

A state is derived, never stored: from the counter's row, its account, its live job (if
any) and the clock. Priority, highest first: REVOKED, DISABLED, SYNCING, QUEUED, FAILED,
PENDING, OK, OVERDUE.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter as Tally
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class CounterState(StrEnum):
    PENDING = "pending"  # never synced
    QUEUED = "queued"
    SYNCING = "syncing"
    OK = "ok"  # last success within the interval
    OVERDUE = "overdue"  # last success older than the interval, nothing queued
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
    next_due_at: dt.datetime | None
    attempts: int
    last_error: str | None
    time_zone: str = "Europe/Moscow"
    #: its job is held by a process that stopped (it will be taken back): the words for it
    held_by: str | None = None


def derive_state(
    *,
    active: bool,
    revoked: bool,
    job_status: str | None,
    last_fetched_at: dt.datetime | None,
    last_error: str | None,
    now: dt.datetime,
    interval: dt.timedelta,
) -> CounterState:
    """The one rule for a counter's state. `job_status` is its live job's ('queued'/'running'; a
    running job whose holder stopped is 'queued': it waits to be taken back, nothing runs it)."""
    if revoked:
        return CounterState.REVOKED
    if not active:
        return CounterState.DISABLED
    if job_status == "running":
        return CounterState.SYNCING
    if job_status == "queued":
        return CounterState.QUEUED
    if last_error:
        return CounterState.FAILED
    if last_fetched_at is None:
        return CounterState.PENDING
    if now - last_fetched_at < interval:
        return CounterState.OK
    return CounterState.OVERDUE


def next_due(last_fetched_at: dt.datetime | None, interval: dt.timedelta) -> dt.datetime | None:
    return None if last_fetched_at is None else last_fetched_at + interval


def next_clock_change(rows: Iterable[CounterStatus]) -> dt.datetime | None:
    """The soonest moment a state changes with the clock alone: an OK counter turning OVERDUE
    (every other change comes with an event). None when no state waits on the clock."""
    return min((row.next_due_at for row in rows if row.state is CounterState.OK and row.next_due_at),
               default=None)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Summary:
    """The figures at the foot of `sync-status` and in the console's summary line.

    `total` counts the counters that should be synced (active, account not revoked);
    `in_sync` those among them whose last success is within the interval, whatever their
    queue state (a counter being refreshed still holds fresh data).
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
            "held_by_stopped_process": self.held,
            "overall_percent": self.overall_percent,
        }


def summarize(
    rows: Iterable[CounterStatus], *, now: dt.datetime, interval: dt.timedelta
) -> Summary:
    tally: Tally[CounterState] = Tally()
    total = in_sync = held = 0
    for row in rows:
        tally[row.state] += 1
        held += row.held_by is not None
        if row.state in (CounterState.DISABLED, CounterState.REVOKED):
            continue
        total += 1
        if row.last_fetched_at is not None and now - row.last_fetched_at < interval:
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
        held=held,
    )
