"""An in-memory engine and runtime with the console's contract (`engine.contract`), for driving it.

States come from `engine.status.derive_state` (the real rule), events go over a real
`EventBus`, and time comes from a fixed clock, so the screen is the same on every run.
Jobs move only when a test says so (`start_queued()`, `run_until_idle()`). Everything it
hands the console is the real engine's types (snapshots, plans, the store's job rows).
mypy checks this module (pyproject's [tool.mypy] files): the assignments at its end say
that the fakes are what the console and the scheduler take.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter as Tally
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metrika_tui.clock import ManualClock
from metrika_tui.engine.accounts import AccountRefused
from metrika_tui.engine.events import EventBus
from metrika_tui.engine.login import DeviceLogin
from metrika_tui.engine.passes import AccountPlan, PlanResult
from metrika_tui.engine.planner import OVERDUE_GRACE, Pace, next_due_slot
from metrika_tui.engine.service import AccountInfo, CounterDetail, EngineSnapshot
from metrika_tui.engine.status import CounterStatus, derive_state, next_clock_change, summarize
from metrika_tui.events import Event, Kind, Level
from metrika_tui.jobs import JobStatus, Trigger
from metrika_tui.models import DailyStat, MonthlyStat, month_start
from metrika_tui.settings import Settings
from metrika_tui.store import Account, JobRecord
from metrika_tui.store_location import StoreLocation
from metrika_tui.tokens import Token

T0 = dt.datetime(2025, 3, 14, 9, 30, tzinfo=dt.UTC)
_job_ids = itertools.count(1)


def attempt(
    counter_id: int, at: dt.datetime, *, error: str | None = None, rows: int | None = None, name: str = ""
) -> JobRecord:
    """A finished job as the store keeps it: done with `rows`, or failed with `error`."""
    return JobRecord(
        id=next(_job_ids),
        counter_id=counter_id,
        account_id=0,
        status=JobStatus.FAILED if error is not None else JobStatus.DONE,
        attempts=1,
        trigger=Trigger.SCHEDULE,
        created_at=at,
        started_at=at,
        finished_at=at,
        last_error=error,
        rows=rows,
        counter_name=name,
    )


# -- the world ---------------------------------------------------------------------------------
@dataclass
class FakeAccount:
    id: int
    user_id: str
    login: str
    revoked: bool = False


@dataclass
class FakeCounter:
    id: int
    account_id: int
    name: str
    site: str
    active: bool = True
    last_fetched_at: dt.datetime | None = None
    last_attempt_at: dt.datetime | None = None
    last_error: str | None = None
    attempts: int = 0
    job: JobStatus | None = None  # QUEUED or RUNNING: its live job
    history: list[JobRecord] = field(default_factory=list)


class FakeEngine:
    def __init__(
        self,
        settings: Settings,
        clock: ManualClock,
        *,
        slot_book: dict[dt.datetime, str] | None = None,
        name: str = "fake",
    ) -> None:
        self.settings = settings
        self.clock = clock
        #: slot -> the engine that planned it: the store's unique (schedule, slot) rows, shared by
        #: the fakes of several processes when given the same dict
        self.slot_book: dict[dt.datetime, str] = {} if slot_book is None else slot_book
        self.name = name
        self.plans: list[dt.datetime] = []  # the slots this engine planned
        self.prunes = 0
        self.bus = EventBus()
        self.accounts: dict[int, FakeAccount] = {}
        self.counters: dict[int, FakeCounter] = {}
        self.fail_next: dict[int, str] = {}  # counter id -> the error its next job fails with
        self.workers_total = settings.workers
        self.snapshot_calls = 0
        self.snapshot_changed: list[set[int] | None] = []
        self.paces: dict[str, Pace] = {}  # login -> each login's day, as snapshots carry it
        self.events: list[Event] = []  # kept when a test subscribes it (tests/scheduler)

    # -- building a world --------------------------------------------------------------------
    def add_account(self, account_id: int, login: str, *, revoked: bool = False) -> None:
        self.accounts[account_id] = FakeAccount(account_id, f"{1000 + account_id}", login, revoked)

    def add_counter(self, counter_id: int, account_id: int, name: str, **fields: Any) -> FakeCounter:
        counter = FakeCounter(counter_id, account_id, name, f"{name.lower().replace(' ', '-')}.example", **fields)
        self.counters[counter_id] = counter
        return counter

    def _status(self, c: FakeCounter) -> CounterStatus:
        account = self.accounts[c.account_id]
        now = self.clock.now()
        next_due_at = next_due_slot(c.last_fetched_at, self.settings, now) if c.last_fetched_at else None
        overdue_at = next_due_at + OVERDUE_GRACE if next_due_at else None
        state = derive_state(
            active=c.active,
            revoked=account.revoked,
            job_status=c.job,
            last_fetched_at=c.last_fetched_at,
            last_error=c.last_error,
            now=now,
            overdue_at=overdue_at,
        )
        return CounterStatus(
            account_id=account.id,
            account_user_id=account.user_id,
            account_login=account.login,
            account_revoked=account.revoked,
            counter_id=c.id,
            name=c.name,
            site=c.site,
            active=c.active,
            state=state,
            last_fetched_at=c.last_fetched_at,
            last_attempt_at=c.last_attempt_at,
            next_due_at=next_due_at,
            attempts=c.attempts,
            last_error=c.last_error,
            overdue_at=overdue_at,
        )

    # -- the facade ----------------------------------------------------------------------------
    async def snapshot(self, *, changed: set[int] | None = None, base: EngineSnapshot | None = None) -> EngineSnapshot:
        """Always a full read; `changed` (what a partial read would ask for) is noted."""
        self.snapshot_calls += 1
        self.snapshot_changed.append(changed)
        now = self.clock.now()
        ordered = sorted(self.counters.values(), key=lambda c: (c.account_id, c.id))
        rows = tuple(self._status(c) for c in ordered)
        per_account = Tally(c.account_id for c in ordered)
        accounts = tuple(
            AccountInfo(a.id, a.user_id, a.login, "y0_A…beef", a.revoked, per_account[a.id], quota_login=a.login)
            for a in sorted(self.accounts.values(), key=lambda a: a.id)
        )
        jobs = [c.job for c in ordered if c.job]
        return EngineSnapshot(
            counters=rows,
            accounts=accounts,
            summary=summarize(rows, now=now),
            next_scheduled_sync_at=None,
            scheduler_state="running",
            workers_busy=jobs.count(JobStatus.RUNNING),
            workers_total=self.workers_total,
            queue_depth=len(jobs),
            requests_per_second=2.5,
            quota_headroom=0.87,
            taken_at=now,
            clock_change_at=next_clock_change(rows),
            paces=dict(self.paces),
        )

    def _plannable(self, c: FakeCounter) -> bool:
        return c.active and not self.accounts[c.account_id].revoked

    def _enqueue(self, c: FakeCounter, why: Trigger) -> None:
        c.job = JobStatus.QUEUED
        self.bus.emit(Kind.QUEUED, f"queued ({why})", counter_id=c.id, account_id=c.account_id, ts=self.clock.now())

    async def plan(
        self,
        *,
        force: bool = False,
        account_id: int | None = None,
        counter_id: int | None = None,
        trigger: Trigger = Trigger.MANUAL,
        priority: int = 0,
        slot: dt.datetime | None = None,
    ) -> PlanResult:
        if slot is not None:
            if not await self.note_slot(slot):
                return PlanResult([], slot_taken=False)
            self.plans.append(slot)
        plans: list[AccountPlan] = []
        for account in self.accounts.values():
            if account_id is not None and account.id != account_id:
                continue
            queued: list[int] = []
            recent: list[int] = []
            live: list[int] = []
            for c in (c for c in self.counters.values() if c.account_id == account.id):
                if (counter_id is not None and c.id != counter_id) or not self._plannable(c):
                    continue
                if c.job:
                    live.append(c.id)
                elif not force and c.last_fetched_at and self.clock.now() - c.last_fetched_at < self.settings.interval:
                    recent.append(c.id)
                else:
                    self._enqueue(c, trigger)
                    queued.append(c.id)
            plans.append(AccountPlan(account.id, account.user_id, queued, recent, live))
        return PlanResult(plans)

    async def note_slot(self, slot: dt.datetime) -> bool:
        """`slot` in the shared slot book, unless another fake planned it (the store's unique row)."""
        if slot in self.slot_book:
            return False
        self.slot_book[slot] = self.name
        return True

    async def prune_history(self) -> None:
        self.prunes += 1

    async def force_sync(self, counter_id: int) -> PlanResult:
        return await self.plan(force=True, counter_id=counter_id, trigger=Trigger.FORCE, priority=10)

    async def set_counter_active(self, counter_id: int, active: bool) -> None:
        c = self.counters[counter_id]
        c.active = active
        if not active and c.job is JobStatus.QUEUED:
            c.job = None
        self.bus.emit(Kind.INFO, "enabled" if active else "disabled", counter_id=counter_id, ts=self.clock.now())

    async def retry_failed(self, counter_id: int | None = None) -> int:
        failed = [
            c
            for c in self.counters.values()
            if c.last_error and not c.job and self._plannable(c) and (counter_id is None or c.id == counter_id)
        ]
        for c in failed:
            self._enqueue(c, Trigger.RETRY)
        return len(failed)

    async def failed_jobs(self) -> list[JobRecord]:
        failed = []
        for c in sorted(self.counters.values(), key=lambda c: c.id):
            if c.last_error and not c.job:
                job = attempt(c.id, c.last_attempt_at or self.clock.now(), error=c.last_error, name=c.name)
                failed.append(replace(job, account_id=c.account_id, attempts=c.attempts))
        return failed

    async def counter_detail(self, counter_id: int) -> CounterDetail:
        c = self.counters[counter_id]
        today = self.clock.now().date()
        daily = [
            DailyStat(
                today - dt.timedelta(days=n),
                visits=100 + (counter_id * 7 + n * 13) % 90,
                users=80,
                pageviews=300,
                bounce_rate=20.0,
                avg_visit_duration=60.0,
            )
            for n in range(90)
            if c.last_fetched_at
        ]
        months = sorted({month_start(d.date) for d in daily})
        monthly = [
            MonthlyStat(
                m,
                visits=sum(d.visits for d in daily if month_start(d.date) == m),
                users=900,
                pageviews=3000,
                bounce_rate=20.0,
                avg_visit_duration=60.0,
            )
            for m in months
        ]
        return CounterDetail(self._status(c), list(reversed(c.history)), daily, monthly)

    async def add_account_or_refuse(self, token: Token, *, user_id: str | None = None) -> tuple[Account, int]:
        raise AccountRefused("the fake engine checks no tokens (tests/tui/test_add_account.py uses the real one)")

    async def start_login_or_refuse(self) -> DeviceLogin:
        raise AccountRefused("the fake engine has no Yandex ID (tests/tui/test_add_account.py uses the real one)")

    async def start_workers(self, n: int | None = None) -> None:
        pass

    async def stop_workers(self, grace: float = 10.0) -> None:
        pass

    async def close(self) -> None:
        pass

    # -- moving jobs (what workers would do) -----------------------------------------------------
    def start_queued(self) -> list[int]:
        started = [c for c in self.counters.values() if c.job is JobStatus.QUEUED]
        for c in started:
            c.job = JobStatus.RUNNING
            self.bus.emit(Kind.STARTED, "started", counter_id=c.id, account_id=c.account_id, ts=self.clock.now())
        return [c.id for c in started]

    async def run_until_idle(self, counter_ids: set[int] | None = None) -> list[int]:
        self.start_queued()
        done: list[int] = []
        for c in self.counters.values():
            if c.job is not JobStatus.RUNNING or (counter_ids is not None and c.id not in counter_ids):
                continue
            now = self.clock.now()
            c.job, c.last_attempt_at = None, now
            c.attempts += 1
            if (error := self.fail_next.pop(c.id, None)) is not None:
                c.last_error = error
                c.history.append(attempt(c.id, now, error=error))
                self.bus.emit(Kind.FAILED, f"failed: {error}", level=Level.ERROR, counter_id=c.id, ts=now)
            else:
                c.last_error, c.last_fetched_at, c.attempts = None, now, 0
                c.history.append(attempt(c.id, now, rows=90))
                self.bus.emit(Kind.DONE, "done: 90 rows in 120 ms", counter_id=c.id, ts=now)
            done.append(c.id)
        return done


class FakeRuntime:
    """The `Runtime` shape the console takes: an engine, start/stop, the scheduler's state."""

    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine
        self.settings = engine.settings
        self.describe_db = "demo: /tmp/demo.db"
        self.paused = False
        self.started = False
        self.stopped = False
        self.hurried = False

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        return self.engine.bus.subscribe(callback)

    async def start(self) -> None:
        self.started = True
        self.engine.bus.emit(Kind.INFO, "console started", ts=self.engine.clock.now())

    async def stop(self, grace: float = 10.0) -> None:
        self.stopped = True

    def hurry(self) -> None:
        self.hurried = True

    def pause_scheduler(self) -> None:
        self.paused = True

    def resume_scheduler(self) -> None:
        self.paused = False

    @property
    def scheduler_state(self) -> str:
        return "paused" if self.paused else "running"

    @property
    def next_scheduled_sync_at(self) -> dt.datetime | None:
        return None if self.paused else self.engine.clock.now().replace(minute=0) + dt.timedelta(hours=1)


def demo_world(
    *, accounts: int = 2, per_account: int = 6, clock: ManualClock | None = None, settings: Settings | None = None
) -> FakeRuntime:
    """A small, fixed world with every state: ok, overdue, pending, failed, disabled, revoked."""
    clock = clock or ManualClock(T0)
    settings = settings or Settings(
        db_path=StoreLocation.file(Path("/tmp/demo.db")), timezone="Europe/Moscow", workers=4
    )
    engine = FakeEngine(settings, clock)
    now = clock.now()
    counter_id = 1000
    for a in range(1, accounts + 1):
        engine.add_account(
            a, ["alice", "bob", "carol", "dave"][(a - 1) % 4] + ("" if a <= 4 else str(a)), revoked=(a == 3)
        )
        for n in range(per_account):
            counter_id += 1
            kind = n % 6
            c = engine.add_counter(counter_id, a, f"Site {counter_id}")
            if kind in (0, 1):
                c.last_fetched_at = now - dt.timedelta(minutes=5 + 10 * n)  # OK
            elif kind == 2:
                c.last_fetched_at = now - dt.timedelta(hours=3)  # OVERDUE
            elif kind == 4:
                c.last_fetched_at = now - dt.timedelta(hours=2)
                c.last_attempt_at, c.attempts = now - dt.timedelta(minutes=7), 5
                c.last_error = "400 Bad Request: wrong parameter 'metrics'"  # FAILED
                c.history.append(attempt(c.id, c.last_attempt_at, error=c.last_error))
            elif kind == 5:
                c.active = False  # DISABLED
            # kind 3: never synced, PENDING
    return FakeRuntime(engine)


if TYPE_CHECKING:  # for mypy: the fakes are what the console and the scheduler take
    from metrika_tui.engine.contract import ConsoleEngine, ConsoleRuntime
    from metrika_tui.engine.scheduler import Planning

    def _fakes_fit(engine: FakeEngine, runtime: FakeRuntime) -> None:
        console: ConsoleEngine = engine
        planning: Planning = engine
        held: ConsoleRuntime = runtime
        del console, planning, held
