"""The engine facade: what the commands, the daemon and the console call (engine.contract types it)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from metrika_tui.clock import Clock, SystemClock
from metrika_tui.engine import leases, planner
from metrika_tui.engine.events import EventBus
from metrika_tui.engine.job import JobResult, current_job
from metrika_tui.engine.passes import (
    AccountPlan,
    CounterOutcome,
    PassProgress,
    PassReport,
    PlanResult,
    counter_outcome,
    not_waited,
    skipped,
)
from metrika_tui.engine.planner import Pace, PlanMode
from metrika_tui.engine.ports import Closable, Measured, MetrikaApi, SharesReportBudget, YandexIdApi
from metrika_tui.engine.recorder import EventRecorder, UsageRecorder, listen_to_requests
from metrika_tui.engine.scheduler import SCHEDULE_NAME, Scheduler, next_slot_after, slot_key
from metrika_tui.engine.status import (
    CounterState,
    CounterStatus,
    Summary,
    derive_state,
    next_clock_change,
    summarize,
)
from metrika_tui.engine.waits import SHORTEST_TOLD_WAIT, PassWait, explain, pass_max_wait
from metrika_tui.engine.worker import WorkerPool
from metrika_tui.events import ORIGIN, Event, Kind, Level
from metrika_tui.jobs import JobStatus, Trigger
from metrika_tui.models import DailyStat, MonthlyStat
from metrika_tui.settings import Settings
from metrika_tui.slices import map_in_slices
from metrika_tui.store import Account, ClaimedJob, CounterRow, JobRecord, Store
from metrika_tui.tokens import Token

if TYPE_CHECKING:
    from metrika_tui.engine.login import DeviceLogin
    from metrika_tui.metrika.errors import MetrikaError

#: a forced sync jumps the line
FORCE_PRIORITY = 10
#: `run_until_idle` stops waiting for jobs deferred further than this unless told otherwise
#: (a quota resets tomorrow); `sync` waits out a spent report budget (`pass_max_wait`)
MAX_WAIT_FOR_DEFERRED = dt.timedelta(minutes=2)
_IN_QUEUE = (CounterState.QUEUED, CounterState.SYNCING)
#: finished jobs (the attempt history) are kept this long
HISTORY_KEPT = dt.timedelta(days=30)


#: how a plan spends its logins' budgets, by what asked for it (`sync --force`: FITS)
PLAN_MODES = {Trigger.SCHEDULE: PlanMode.PACED, Trigger.STARTUP: PlanMode.PACED, Trigger.FORCE: PlanMode.RESERVE}


@dataclass(frozen=True)
class AccountInfo:
    id: int
    user_id: str
    login: str
    token_masked: str
    revoked: bool
    counters: int
    revoked_reason: str | None = None
    quota_login: str = ""  # whose quotas it spends (its Yandex login)
    uid: str | None = None  # the Yandex user id
    token_expires_at: dt.datetime | None = None
    has_refresh_token: bool = False
    login_needed: str | None = None  # why it must log in again (a refused refresh)
    #: what the user should know about its token, if anything (`token_care.token_warning`)
    token_warning: str | None = None


@dataclass(frozen=True)
class CounterDetail:
    status: CounterStatus
    attempts: list[JobRecord]
    daily: list[DailyStat]
    monthly: list[MonthlyStat]


@dataclass(frozen=True)
class EngineSnapshot:
    counters: tuple[CounterStatus, ...]
    accounts: tuple[AccountInfo, ...]
    summary: Summary
    next_scheduled_sync_at: dt.datetime | None
    scheduler_state: str
    workers_busy: int
    workers_total: int
    queue_depth: int
    requests_per_second: float
    quota_headroom: float
    taken_at: dt.datetime
    #: the soonest a state changes with no event (`next_clock_change`): when to look again
    clock_change_at: dt.datetime | None = None
    #: each login's day: its quota used, when it resets, how often its counters are synced
    paces: Mapping[str, Pace] = field(default_factory=dict)
    freshness: Freshness | None = None


@dataclass(frozen=True)
class Freshness:
    """How old the synced data of the active counters is (never-synced ones aside)."""

    oldest_age: dt.timedelta | None
    median_age: dt.timedelta | None
    counters: int  # how many were measured

    @classmethod
    def of(cls, counters: Iterable[CounterStatus], now: dt.datetime) -> Freshness:
        ages = sorted(
            now - c.last_fetched_at
            for c in counters
            if c.last_fetched_at is not None and c.active and not c.account_revoked
        )
        if not ages:
            return cls(None, None, 0)
        return cls(ages[-1], statistics.median_low(ages), len(ages))

    def as_dict(self) -> dict[str, int | None]:
        def seconds(age: dt.timedelta | None) -> int | None:
            return None if age is None else round(age.total_seconds())

        return {"oldest_age_seconds": seconds(self.oldest_age), "median_age_seconds": seconds(self.median_age)}


class Engine:
    """Store + client + worker pool + events, with the operations users ask for."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        client: MetrikaApi,
        *,
        clock: Clock | None = None,
        bus: EventBus | None = None,
        owns_client: bool = True,
        yandex_id: YandexIdApi | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.client = client
        #: Yandex ID (device login, refresh, identity); closed with the engine
        self.yandex_id = yandex_id
        self.clock = clock or SystemClock()
        self.bus = bus or EventBus(self.clock)
        self._owns_client = owns_client
        self.recorder = EventRecorder(store)
        self.bus.subscribe(self.recorder)
        self.usage = UsageRecorder(store, self.clock)
        listen_to_requests(client, self.usage)
        if store.is_postgres and isinstance(client, SharesReportBudget):  # several hosts: one budget per login
            client.share_report_budget(store)
        self._told_paces: dict[str, Pace] = {}  # login -> the stretch last told
        self.pool = WorkerPool(
            store=store,
            client=client,
            settings=lambda: self.settings,
            clock=self.clock,
            bus=self.bus,
            on_result=self._on_result,
        )
        self._results: dict[int, JobResult] = {}
        #: counter -> (account, result) of this process's jobs queued again for later (why a pass waits)
        self._waiting: dict[int, tuple[int, JobResult]] = {}
        self._finished = asyncio.Event()
        #: a pass asked to stop (a signal): running jobs get this grace, the rest go back
        self._stop_grace: float | None = None
        #: the runtime's Scheduler, when one runs in this process
        self.scheduler: Scheduler | None = None
        #: told of every plan this process makes (trigger, result) and every job result of its
        #: workers (the metrics: passes, job runs); called synchronously, so they must not raise
        self.plan_listeners: list[Callable[[Trigger, PlanResult], None]] = []
        self.result_listeners: list[Callable[[ClaimedJob, JobResult], None]] = []

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        client: MetrikaApi | None = None,
        clock: Clock | None = None,
        bus: EventBus | None = None,
        yandex_id: YandexIdApi | None = None,
    ) -> Engine:
        """`yandex_id`: default a client of the configured `oauth_url` / `login_url`."""
        if yandex_id is None:
            from metrika_tui.metrika.oauth import YandexIdClient

            yandex_id = YandexIdClient.from_settings(settings)
        store = await Store.open(settings.db_path)
        owns = client is None
        if client is None:
            from metrika_tui.metrika import MetrikaClient

            bus = bus or EventBus(clock)
            client = MetrikaClient.from_settings(settings, on_retry=_retry_reporter(bus))
        engine = cls(settings, store, client, clock=clock, bus=bus, owns_client=owns, yandex_id=yandex_id)
        engine.recorder.start()
        engine.usage.start()
        return engine

    async def close(self) -> None:
        """Stop the workers (running jobs finish or give their leases back), write what the
        recorders hold, close the clients it owns and the store."""
        await self.pool.stop(grace=10.0)
        await self.recorder.stop()
        await self.usage.stop()
        if self._owns_client and isinstance(self.client, Closable):
            await self.client.aclose()
        if self.yandex_id is not None and isinstance(self.yandex_id, Closable):
            await self.yandex_id.aclose()
        await self.store.close()

    # -- planning ------------------------------------------------------------------------
    async def plan(
        self,
        *,
        force: bool = False,
        account_id: int | None = None,
        counter_id: int | None = None,
        trigger: Trigger = Trigger.MANUAL,
        priority: int = 0,
        slot: dt.datetime | None = None,
        mode: PlanMode | None = None,
    ) -> PlanResult:
        """Queue the due counters (all, with `force`) within their logins' budgets.

        `slot`: the schedule's slot this plan is (planned once across every process). `mode`:
        how much of each login's budget it may spend; by default from the trigger (a slot or
        a start-up paces the day; a force-sync of one counter may use the reserve; anything
        else asked for by hand takes the even share, or with `force` what fits)."""
        trigger = Trigger(trigger)  # a stray word fails here, not when a worker claims the job
        await self.usage.flush()  # every request sent so far counted before the budget is read
        now = self.clock.now()
        mode = mode or PLAN_MODES.get(trigger) or (PlanMode.FITS if force else PlanMode.PACED_NOW)
        choose = functools.partial(
            planner.choose,
            settings=self.settings,
            now=now,
            moment=slot or now,
            mode=mode,
            force=force,
            spread_until=next_slot_after(now, self.settings),
        )
        rows = await self.store.plan_jobs(
            now=now,
            choose=choose,
            account_id=account_id,
            counter_id=counter_id,
            trigger=trigger,
            priority=priority,
            boost=force and priority > 0,
            origin=ORIGIN,
            slot=(SCHEDULE_NAME, slot_key(slot)) if slot else None,
        )
        if not rows.slot_taken:
            return PlanResult([], slot_taken=False)
        accounts = {a.id: a for a in await self.store.accounts()}
        plans: dict[int, AccountPlan] = {}
        for outcome, pairs in (
            ("queued", rows.queued),
            ("skipped_recent", rows.skipped_recent),
            ("already_live", rows.already_live),
            ("skipped_budget", rows.skipped_budget),
        ):
            for cid, aid in pairs:
                account = accounts.get(aid)
                plan = plans.setdefault(
                    aid,
                    AccountPlan(aid, account.user_id if account else "?", login=account.quota_login if account else ""),
                )
                getattr(plan, outcome).append(cid)
        for cid, aid in rows.queued:
            self.bus.emit(Kind.QUEUED, f"queued ({trigger})", level=Level.DEBUG, counter_id=cid, account_id=aid)
        if rows.queued or trigger is not Trigger.SCHEDULE:
            later = f", {len(rows.skipped_budget)} left for later by their quota" if rows.skipped_budget else ""
            self.bus.emit(
                Kind.PLANNED,
                f"{trigger}: queued {len(rows.queued)}, {len(rows.skipped_recent)} in sync,"
                f" {len(rows.already_live)} already queued{later}",
            )
        self._tell_paces(rows.paces)
        self.pool.wake()
        result = PlanResult([plans[a] for a in sorted(plans)], paces=rows.paces)
        for listener in self.plan_listeners:
            listener(trigger, result)
        return result

    def _tell_paces(self, paces: Mapping[str, Pace]) -> None:
        """Say once when a login's quota stretches its counters' interval (and when it no longer
        does, or the stretch moves by more than RETELL_SHARE)."""
        for login, pace in paces.items():
            told = self._told_paces.get(login)
            if pace.stretched:
                moved = (
                    told is None
                    or not told.stretched
                    or abs(pace.effective_interval / told.effective_interval - 1) > planner.RETELL_SHARE
                )
                if moved:
                    self._told_paces[login] = pace
                    self.bus.emit(
                        Kind.WARNING,
                        pace.message(),
                        level=Level.WARNING,
                        data={
                            "login": login,
                            "effective_interval_minutes": round(pace.effective_interval.total_seconds() / 60),
                        },
                    )
            elif told is not None and told.stretched:
                self._told_paces[login] = pace
                self.bus.emit(Kind.INFO, pace.message(), data={"login": login})

    async def force_sync(self, counter_id: int) -> PlanResult:
        return await self.plan(force=True, counter_id=counter_id, trigger=Trigger.FORCE, priority=FORCE_PRIORITY)

    async def set_counter_active(self, counter_id: int, active: bool) -> None:
        if not await self.store.set_counter_active(counter_id, active, now=self.clock.now()):
            raise KeyError(counter_id)
        self.bus.emit(Kind.INFO, "enabled" if active else "disabled: it will not be planned", counter_id=counter_id)

    async def retry_failed(self, counter_id: int | None = None) -> int:
        n = await self.store.requeue_failed(self.clock.now(), counter_id)
        if n:
            self.bus.emit(Kind.QUEUED, f"retrying {n} failed counter(s)", counter_id=counter_id)
            self.pool.wake()
        return n

    # -- workers -------------------------------------------------------------------------
    async def start_workers(self, n: int | None = None) -> None:
        if self.pool.size == 0:
            self.pool.start(n or self.settings.workers)

    async def stop_workers(self, grace: float = 10.0) -> None:
        await self.pool.stop(grace)

    def request_stop(self, grace: float) -> None:
        """End the pass now (a stop signal): `run_until_idle` lets running jobs finish within
        `grace`, gives the other leases back and returns. Asked again: give them back at once."""
        if self._stop_grace is not None:
            self.pool.hurry()
        self._stop_grace = grace
        self._finished.set()

    def _on_result(self, job: ClaimedJob, result: JobResult) -> None:
        self._results[job.counter_id] = result
        if result.run_after is not None:
            self._waiting[job.counter_id] = (job.account_id, result)
        else:
            self._waiting.pop(job.counter_id, None)
        self._finished.set()
        for listener in self.result_listeners:
            listener(job, result)

    async def run_until_idle(
        self,
        counter_ids: set[int] | None = None,
        *,
        max_wait: dt.timedelta = MAX_WAIT_FOR_DEFERRED,
        on_wait: Callable[[PassWait], None] | None = None,
        since: dt.datetime | None = None,
    ) -> list[CounterOutcome]:
        """Work the queue until none of these counters has a live job, or every job left is
        deferred further than `max_wait` (a quota that resets tomorrow): those stay queued.

        While none of them runs here and the next waits (a spent report budget, a backoff, a
        job another process holds), `on_wait` is told what for, once per cause of a second or
        more (not per poll); the wait that ends the pass is told too, with `beyond` set.

        A counter counts as synced if it succeeded after `since` (default: now). Pass the
        moment before planning: a job another process had queued may finish in between.

        Raises StoreError when the database refuses a result (disk full, locked too long):
        the job waits in the queue, and the caller says why it stopped.
        """
        started = since or self.clock.now()
        self.pool.store_error = None
        await self.start_workers()
        told: set[tuple[object, ...]] = set()  # the causes told: each is told once
        loop = asyncio.get_running_loop()
        idle_since: float | None = None  # loop time since which none of the pass ran here
        while True:
            if self._stop_grace is not None:  # a stop signal: finish or give back, then say what was done
                await self.pool.stop(self._stop_grace)
                break
            if self.pool.store_error is not None:  # the database refuses results: say so, don't spin
                raise self.pool.store_error
            self._finished.clear()  # before reading: a job that ends while we read still wakes us
            # which counters still wait: job ids only, read after every finished job (reading every
            # counter's row here slowed big passes: docs/performance.md)
            live = await self.store.live_counter_ids(counter_ids)
            if not live:
                break
            if self.pool.busy:
                idle_since = None
            else:
                idle_since = idle_since or loop.time()
                wait = await self._pass_wait(live, self.clock.now(), max_wait, idle=loop.time() - idle_since)
                # a wait beyond the bound ends the pass even with no cause of ours to tell (what is
                # left was deferred by another process: its results are not ours to explain)
                if wait is not None and (wait.beyond or not wait.causes <= told):
                    told |= wait.causes
                    if on_wait is not None:
                        on_wait(wait)
                    if wait.beyond:
                        break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._finished.wait(), 0.5)
        rows = [r for r in await self.store.counter_rows() if counter_ids is None or r.id in counter_ids]
        return [self._outcome(r, started) for r in rows]

    async def run_pass(
        self,
        *,
        trigger: Trigger,
        force: bool = False,
        account_id: int | None = None,
        counter_id: int | None = None,
        wait: bool = True,
        max_wait: dt.timedelta | None = None,
        progress: PassProgress | None = None,
    ) -> PassReport:
        """One pass, as `sync` and `--headless --once` run it: plan, then work the queue until
        none of the counters it queued (or found queued) has a live job, or what is left waits
        beyond `max_wait` (default `pass_max_wait`: a spent report budget is waited out).

        `wait=False` only plans (a running console or daemon works the queue). `progress`
        hears the plan and each wait as they happen. Raises StoreError as `run_until_idle` does.
        """
        planned_at = self.clock.now()  # a job another process queued may finish before we wait
        plan = await self.plan(force=force, account_id=account_id, counter_id=counter_id, trigger=trigger)
        wanted = plan.waits_for
        if progress is not None:
            progress.planned(plan, wait and bool(wanted))
        if not wait:
            return PassReport(plan, (*not_waited(plan), *skipped(plan)), waited=False)
        waits: list[PassWait] = []

        def on_wait(told: PassWait) -> None:
            waits.append(told)
            if progress is not None:
                progress.waiting(told)

        outcomes: list[CounterOutcome] = []
        if wanted:
            outcomes = await self.run_until_idle(
                wanted,
                max_wait=pass_max_wait(self.settings) if max_wait is None else max_wait,
                on_wait=on_wait,
                since=planned_at,
            )
        return PassReport(plan, (*outcomes, *skipped(plan)), tuple(waits), stopped=self._stop_grace is not None)

    async def _pass_wait(
        self, live: set[int], now: dt.datetime, max_wait: dt.timedelta, *, idle: float
    ) -> PassWait | None:
        """Why none of the pass runs here, `idle` seconds on: None if something may start now
        (or runs here), or the wait is too short to tell."""
        held = [job for job in await self.store.held_jobs() if job.counter_id in live]
        holders = leases.holders(held, self.pool.process, now, self.settings.heartbeat)
        if holders is None:
            return None  # one of ours runs
        soonest = await self.store.next_run_after()
        deferred = soonest if soonest is not None and soonest > now else None
        if not holders and (deferred is None or deferred - now < SHORTEST_TOLD_WAIT):
            return None  # something may start now, or in a moment
        if holders and idle < SHORTEST_TOLD_WAIT.total_seconds():
            return None  # between two jobs: the next is claimed in a moment
        ends = [h.until for h in holders if h.state == leases.HolderState.STOPPED and h.until]
        until = min([*ends, *([deferred] if deferred else [])], default=None)
        moving = any(h.state != leases.HolderState.STOPPED for h in holders)  # finished or taken back soon
        if moving:
            until = None
        beyond = until is not None and until - now > max_wait
        waiting = [w for cid in live if (w := self._waiting.get(cid)) is not None]
        logins = {a.id: a.login for a in await self.store.accounts()} if waiting else {}
        return explain(
            waiting, logins, self.settings, until=until, now=now, queued=len(live), beyond=beyond, holders=holders
        )

    def _outcome(self, row: CounterRow, since: dt.datetime) -> CounterOutcome:
        result = self._results.get(row.id)
        return counter_outcome(
            row, since=since, rows=result.rows if result else 0, still_queued_for=result.error if result else None
        )

    # -- what users look at --------------------------------------------------------------
    def _status(
        self,
        row: CounterRow,
        now: dt.datetime,
        schedule: tuple[dt.datetime | None, dt.datetime | None],
        held_by: Mapping[int, str] | None = None,
    ) -> CounterStatus:
        next_due_at, overdue_at = schedule
        held = held_by.get(row.id) if held_by and row.job_status is JobStatus.RUNNING else None
        return CounterStatus(
            account_id=row.account_id,
            account_user_id=row.account_user_id,
            account_login=row.account_login,
            account_revoked=row.account_revoked,
            counter_id=row.id,
            name=row.name,
            site=row.site,
            active=row.active,
            state=derive_state(
                active=row.active,
                revoked=row.account_revoked,
                job_status=JobStatus.QUEUED if held else row.job_status,
                last_fetched_at=row.last_fetched_at,
                last_error=row.last_error,
                now=now,
                overdue_at=overdue_at,
            ),
            last_fetched_at=row.last_fetched_at,
            last_attempt_at=row.last_attempt_at,
            next_due_at=next_due_at,
            attempts=row.job_attempts,
            last_error=row.last_error,
            time_zone=row.time_zone,
            overdue_at=overdue_at,
            sample_share=row.sample_share,
            held_by=held,
        )

    async def _held_by_stopped(self, now: dt.datetime) -> dict[int, str]:
        """Counter id -> what to say of its job, held by a process that stopped (not SYNCING)."""
        by_job = leases.holders_by_job(await self.store.held_jobs(), self.pool.process, now, self.settings.heartbeat)
        return {
            cid: note
            for cid, holder in by_job.items()
            if holder is not None and (note := holder.note(self.settings.tz))
        }

    async def paces(self, now: dt.datetime | None = None) -> dict[str, Pace]:
        """Each login's day: requests used, when it resets, how often its counters can be synced."""
        now = now or self.clock.now()
        return {
            login: planner.pace_of(day, self.settings, now) for login, day in (await self.store.login_days(now)).items()
        }

    async def snapshot(self, *, changed: set[int] | None = None, base: EngineSnapshot | None = None) -> EngineSnapshot:
        """Everything the console and `sync-status` show, at one moment.

        With `changed` and the `base` snapshot they changed from, only those counters are
        read again and the rest kept (during a pass a console re-reads the few the events
        named, not all); a counter new since `base` means a full read. A full read is built
        in slices (`map_in_slices`), so a console on the same event loop stays responsive
        while a big one is built.
        """
        now = self.clock.now()
        paces = await self.paces(now)
        counters = None
        if changed is not None and base is not None:
            counters = await self._refreshed(base.counters, changed, now, paces)
        if counters is None:
            rows = await self.store.counter_rows()
            schedule = planner.when_next(rows, paces, self.settings, now)
            held = await self._held_by_stopped(now)
            counters = tuple(await map_in_slices(lambda row: self._status(row, now, schedule[row.id], held), rows))
        accounts = tuple(account_info(a, now) for a in await self.store.accounts())
        stats = self.client.stats() if isinstance(self.client, Measured) else None
        return EngineSnapshot(
            counters=counters,
            accounts=accounts,
            summary=summarize(counters, now=now),
            next_scheduled_sync_at=self.scheduler.next_run_at if self.scheduler else None,
            scheduler_state=self.scheduler.state if self.scheduler else "off",
            workers_busy=self.pool.busy,
            workers_total=self.pool.size,
            queue_depth=sum(1 for c in counters if c.state in _IN_QUEUE),
            requests_per_second=stats.requests_per_second if stats else 0.0,
            quota_headroom=stats.worst_headroom if stats else 1.0,
            taken_at=now,
            clock_change_at=next_clock_change(counters),
            paces=paces,
            freshness=Freshness.of(counters, now),
        )

    async def _refreshed(
        self, known: tuple[CounterStatus, ...], changed: set[int], now: dt.datetime, paces: Mapping[str, Pace]
    ) -> tuple[CounterStatus, ...] | None:
        """`known` with the `changed` counters read again; None if one of them is new."""
        held = await self._held_by_stopped(now)
        fresh = {
            row.id: self._status(
                row, now, planner.when_next_one(row, paces.get(row.quota_login), self.settings, now), held
            )
            for row in await self.store.counter_rows(ids=changed)
        }
        if not fresh.keys() <= {c.counter_id for c in known}:
            return None  # a counter appeared: its place in the order is the store's to say
        return tuple(fresh.get(c.counter_id, c) for c in known if c.counter_id not in changed or c.counter_id in fresh)

    async def counter_detail(self, counter_id: int) -> CounterDetail:
        """The counter's state, its last attempts (newest first), 90 days of daily rows and its
        months: the console's detail pane. KeyError for an unknown id."""
        rows = await self.store.counter_rows(counter_id)
        if not rows:
            raise KeyError(counter_id)
        now = self.clock.now()
        since = now.date() - dt.timedelta(days=90)
        pace = (await self.paces(now)).get(rows[0].quota_login)
        return CounterDetail(
            status=self._status(
                rows[0], now, planner.when_next_one(rows[0], pace, self.settings, now), await self._held_by_stopped(now)
            ),
            attempts=await self.store.job_history(counter_id),
            daily=await self.store.daily_stats(counter_id, since),
            monthly=await self.store.monthly_stats(counter_id),
        )

    async def prune_history(self) -> None:
        """Keep the job history bounded; the scheduler calls this once per planned slot."""
        removed = await self.store.prune_history(now=self.clock.now(), keep=HISTORY_KEPT)
        if removed:
            self.bus.emit(
                Kind.INFO, f"pruned {removed} finished job(s) older than {HISTORY_KEPT.days} days", level=Level.DEBUG
            )

    async def note_slot(self, slot: dt.datetime) -> bool:
        """Record that this process covers `slot` (its start-up's plan did), unless another
        process planned it already; True if this call recorded it."""
        return await self.store.note_slot(
            schedule=SCHEDULE_NAME, slot=slot_key(slot), now=self.clock.now(), origin=ORIGIN
        )

    # -- accounts, for the console: the client's errors told as AccountRefused ------------
    async def add_account_or_refuse(self, token: Token, *, user_id: str | None = None) -> tuple[Account, int]:
        """Check the token, store its account and discover its counters: (account, counters found)."""
        from metrika_tui.engine.accounts import add_account_or_refuse

        return await add_account_or_refuse(self, token, user_id=user_id)

    async def start_login_or_refuse(self) -> DeviceLogin:
        """Ask Yandex ID for a device code; its `finish_login_or_refuse` stores the account."""
        from metrika_tui.engine.login import start_login_or_refuse

        return await start_login_or_refuse(self)

    async def counter_accounts(self) -> dict[int, tuple[int, ...]]:
        """Counter id -> every account that sees it, the one it is synced through first."""
        return await self.store.counter_access()

    async def failed_jobs(self) -> list[JobRecord]:
        """The last failed job of each counter whose last attempt failed and that waits for nothing."""
        return await self.store.failed_jobs()

    async def events_since(self, last_id: int | None) -> list[Event]:
        await self.recorder.flush()
        return await self.store.events_since(last_id)

    async def last_event_id(self) -> int:
        await self.recorder.flush()
        return await self.store.last_event_id()


def account_info(account: Account, now: dt.datetime) -> AccountInfo:
    """What users see of an account: never its secrets, only whether it has them."""
    from metrika_tui.engine.token_care import token_warning

    return AccountInfo(
        account.id,
        account.user_id,
        account.login,
        account.token_masked,
        account.revoked,
        account.counters,
        account.revoked_reason,
        quota_login=account.quota_login,
        uid=account.uid,
        token_expires_at=account.token_expires_at,
        has_refresh_token=account.refresh_token is not None,
        login_needed=account.login_needed,
        token_warning=token_warning(account, now),
    )


def _retry_reporter(bus: EventBus) -> Callable[[MetrikaError, int, float], None]:
    """The client's in-process retries, told as events of the counter being fetched."""

    def on_retry(exc: MetrikaError, attempt: int, wait: float) -> None:
        job = current_job.get()
        bus.emit(
            Kind.RETRYING,
            f"{exc}; retry {attempt} in {wait:.1f}s",
            level=Level.WARNING,
            counter_id=job.counter_id if job else None,
            account_id=job.account_id if job else None,
            job_id=job.id if job else None,
        )

    return on_retry
