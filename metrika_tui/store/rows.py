"""What the store hands back: small typed rows, datetimes aware and in UTC."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from metrika_tui.jobs import JobStatus, Trigger
from metrika_tui.tokens import Token

#: a stored word back as its status (a dict lookup: `counter_rows` reads one per counter)
_STATUSES: dict[str | None, JobStatus] = {status.value: status for status in JobStatus}


def to_ts(moment: dt.datetime) -> float:
    return moment.timestamp()


def from_ts(value: float | None) -> dt.datetime | None:
    return None if value is None else at(value)


def at(value: float) -> dt.datetime:
    """A NOT NULL timestamp column (created_at, ts) as an aware UTC datetime."""
    return dt.datetime.fromtimestamp(value, dt.UTC)


def live_status(word: str | None) -> JobStatus | None:
    """A live job's stored status (None: the counter has no live job)."""
    return _STATUSES.get(word)


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    user_id: str
    login: str
    token: Token
    revoked: bool
    revoked_reason: str | None
    counters: int = 0
    quota_login: str = ""  # whose quotas its requests count against (see store.QUOTA_LOGIN)
    uid: str | None = None  # the Yandex user id, once login.yandex.ru/info has said it
    refresh_token: Token | None = None
    token_expires_at: dt.datetime | None = None
    login_needed: str | None = None  # why the account must log in again, if it must

    @property
    def token_masked(self) -> str:
        return self.token.masked


@dataclass(frozen=True, slots=True)
class CounterRow:
    """A counter with its account and live job: everything its state is derived from."""

    id: int
    account_id: int
    account_user_id: str
    account_login: str
    account_revoked: bool
    name: str
    site: str
    time_zone: str
    active: bool
    last_fetched_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    last_error: str | None
    job_status: JobStatus | None  # its live job's (QUEUED or RUNNING), None without one
    job_attempts: int
    quota_login: str = ""
    synced_for: dt.datetime | None = None  # what its last success was planned for
    sample_share: float | None = None  # the last fetch's, when its figures were sampled


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job a worker holds a lease on, with what it needs to run."""

    id: int
    counter_id: int
    account_id: int
    attempts: int
    trigger: Trigger
    lease_owner: str
    token: Token
    time_zone: str
    last_fetched_day: dt.date | None
    login: str = ""  # the quota key its requests count against
    deferrals: int = 0  # quota answers of unknown reset it has waited out
    time_zone_offset: int | None = None  # minutes: the zone when its name is unknown here
    lost: int = 0  # leases of this job lost with a dead worker so far (this claim's included)


@dataclass(frozen=True, slots=True)
class HeldJob:
    """A running job and who holds its lease (`processes.ProcessId` in parts)."""

    id: int
    counter_id: int
    account_id: int
    lease_owner: str  # host:pid:wN
    host_id: str | None  # None: a holder that did not say (only its lease's end tells)
    pid: int | None
    started: float | None
    lease_expires_at: dt.datetime | None
    heartbeat_at: dt.datetime | None

    @property
    def host(self) -> str:
        return self.lease_owner.rsplit(":", 2)[0] if self.lease_owner.count(":") >= 2 else self.lease_owner


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job as history: for the detail pane and the failed view."""

    id: int
    counter_id: int
    account_id: int
    status: JobStatus
    attempts: int
    trigger: Trigger
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    last_error: str | None
    rows: int | None
    counter_name: str = ""
    lost: int = 0  # leases lost with a dead worker (not failed tries)


@dataclass(frozen=True, slots=True)
class PlanCandidate:
    """An active counter of a live account, as the planner weighs it."""

    counter_id: int
    account_id: int
    login: str  # its account's quota_login
    live: bool  # it has a queued or running job already
    last_fetched_at: dt.datetime | None
    synced_for: dt.datetime | None
    last_fetched_day: dt.date | None
    time_zone: str


@dataclass(frozen=True, slots=True)
class LoginDay:
    """One login's day as the store counts it: requests sent, and jobs still to spend some."""

    login: str
    used: int = 0  # requests sent today (UTC), by every process
    committed: int = 0  # report requests the live jobs due before the reset will make
    spent_until: dt.datetime | None = None  # the server said the day's quota is spent
    spent_message: str | None = None
    counters: int = 0  # active counters of its live accounts
    paced_until: dt.datetime | None = None  # when its last paced refresh of the day was planned to run


@dataclass(frozen=True, slots=True)
class NewJob:
    counter_id: int
    account_id: int
    login: str
    cost: int
    run_after: dt.datetime
    planned_for: dt.datetime


@dataclass(frozen=True, slots=True)
class PlanDecision:
    """What the planner chose, for the store to write: (counter_id, account_id) lists by outcome."""

    queue: list[NewJob]
    skipped_recent: list[tuple[int, int]]
    skipped_budget: list[tuple[int, int]]
    already_live: list[tuple[int, int]]
    paces: dict[str, Any] = field(default_factory=dict)  # login -> engine.planner.Pace
    paced_until: dict[str, dt.datetime] = field(default_factory=dict)  # login -> its last paced refresh's run_after


@dataclass(frozen=True, slots=True)
class PlanRows:
    """What planning did, per counter: (counter_id, account_id) lists by outcome."""

    queued: list[tuple[int, int]]
    skipped_recent: list[tuple[int, int]]
    already_live: list[tuple[int, int]]
    slot_taken: bool = True
    skipped_budget: list[tuple[int, int]] = field(default_factory=list)
    paces: dict[str, Any] = field(default_factory=dict)  # login -> engine.planner.Pace
