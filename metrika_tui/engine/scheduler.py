"""The periodic tick: Laravel's `everyMinutes()->timezone()->withoutOverlapping()->onOneServer()`.

APScheduler (3.x, in-process, memory job store) only *fires*: a tick plans a pass into the
durable queue and returns; workers do the fetching. What makes it safe:

- Slots lie on one grid, every N minutes from a fixed local midnight in the configured time
  zone, so every process sharing a database computes the same slot for the same moment.
- On one server: the engine writes a unique (schedule, slot) row in the same transaction
  as the jobs, so exactly one process plans each slot; nothing to lose in a cache or to
  outlive a crash.
- Without overlapping: one tick at a time (max_instances=1), and a counter never has two
  live jobs, so a slow pass is never planned again on top of itself.
- Misfires (suspend, long stall) coalesce into one tick for the latest slot; a watchdog
  notices when ticks stop coming and says so loudly, then fires a catch-up tick itself.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from metrika_tui.clock import Clock, SystemClock
from metrika_tui.engine.events import EventBus
from metrika_tui.events import Kind, Level
from metrika_tui.jobs import Trigger
from metrika_tui.settings import Settings
from metrika_tui.store import StoreError

log = logging.getLogger(__name__)

SCHEDULE_NAME = "sync"

#: how late a slot's tick may be before the watchdog calls the scheduler stalled
STALL_GRACE = dt.timedelta(minutes=2)
_JOB_ID = "metrika-sync-tick"


def slot_key(slot: dt.datetime) -> str:
    """How a schedule slot is named in the store: its moment in UTC, ISO 8601 (one row per slot)."""
    return slot.astimezone(dt.UTC).isoformat()


def grid_anchor(settings: Settings) -> dt.datetime:
    """The fixed origin of the slot grid: local midnight of 2000-01-01 in the schedule's zone."""
    return dt.datetime(2000, 1, 1, tzinfo=settings.tz)


class PlanCounts(Protocol):
    """What a tick tells of a plan (`engine.service.PlanResult` is one)."""

    @property
    def slot_taken(self) -> bool: ...

    @property
    def queued(self) -> list[int]: ...

    @property
    def skipped_recent(self) -> list[int]: ...

    @property
    def already_live(self) -> list[int]: ...

    @property
    def skipped_budget(self) -> list[int]: ...


class Planning(Protocol):
    """What the scheduler needs of the engine: `engine.service.Engine`, or the tests' fake."""

    @property
    def settings(self) -> Settings: ...

    @property
    def bus(self) -> EventBus: ...

    async def plan(self, *, trigger: Trigger = ..., slot: dt.datetime | None = ...) -> PlanCounts: ...

    async def note_slot(self, slot: dt.datetime) -> bool: ...

    async def prune_history(self) -> None: ...


def make_trigger(settings: Settings) -> IntervalTrigger:
    return IntervalTrigger(minutes=settings.interval_minutes, start_date=grid_anchor(settings), timezone=settings.tz)


def current_slot(now: dt.datetime, settings: Settings) -> dt.datetime:
    """The latest slot at or before `now` (UTC): what a tick at `now` plans."""
    anchor = grid_anchor(settings).astimezone(dt.UTC)  # absolute time: no DST wall-clock drift
    steps = (now - anchor) // settings.interval
    return anchor + steps * settings.interval


def next_slot_after(now: dt.datetime, settings: Settings) -> dt.datetime:
    """The first slot strictly after `now` (UTC)."""
    return current_slot(now, settings) + settings.interval


class Scheduler:
    """Fires a planning tick on every slot; pausable; watched for stalls."""

    def __init__(self, engine: Planning, *, clock: Clock | None = None) -> None:
        self.engine = engine
        self.settings: Settings = engine.settings
        self.clock = clock or SystemClock()
        self.last_tick_slot: dt.datetime | None = None
        self.last_planned_by_us: bool | None = None
        self._aps: AsyncIOScheduler | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._paused = False
        self._stall_reported_for: dt.datetime | None = None
        self._first_slot: dt.datetime | None = None  # the first slot after start: owed a tick
        self._tick_lock = asyncio.Lock()

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Start firing in the running event loop."""
        self._first_slot = next_slot_after(self.clock.now(), self.settings)
        self._aps = AsyncIOScheduler(timezone=self.settings.tz)
        self._aps.add_job(
            self.tick,
            make_trigger(self.settings),
            id=_JOB_ID,
            coalesce=True,  # missed slots run once, not once each
            max_instances=1,  # never two ticks at once
            misfire_grace_time=None,  # however late, a missed slot still runs
            replace_existing=True,
        )
        self._aps.start(paused=self._paused)
        self._watchdog = asyncio.get_running_loop().create_task(self._watch(), name="tick-watchdog")

    async def stop(self) -> None:
        if self._watchdog:
            self._watchdog.cancel()
            await asyncio.gather(self._watchdog, return_exceptions=True)
            self._watchdog = None
        if self._aps and self._aps.running:
            self._aps.shutdown(wait=False)
        self._aps = None

    def pause(self) -> None:
        self._paused = True
        if self._aps and self._aps.running:
            self._aps.pause()
        self.engine.bus.emit(Kind.INFO, "scheduler paused: no new passes are planned")

    def resume(self) -> None:
        self._paused = False
        if self._aps and self._aps.running:
            self._aps.resume()
        self.engine.bus.emit(Kind.INFO, f"scheduler resumed; next pass {self._next_text()}")

    # -- what the console and sync-status show -----------------------------------------
    @property
    def state(self) -> str:
        if self._aps is None:
            return "off"
        if self._paused:
            return "paused"
        if self.last_planned_by_us is False:
            return "another process plans"  # it got the last slot first; we still tick, as a standby
        return "running"

    @property
    def next_run_at(self) -> dt.datetime | None:
        if self._aps is None or self._paused:
            return None
        return next_slot_after(self.clock.now(), self.settings)

    def _next_text(self) -> str:
        nxt = self.next_run_at
        return nxt.astimezone(self.settings.tz).strftime("at %H:%M %Z") if nxt else "not scheduled"

    # -- the tick --------------------------------------------------------------------------
    async def catch_up(self) -> None:
        """The start-up's plan: whatever is due now does not wait for the next slot. It covers
        the slot it starts in, so that slot counts as planned (for `metrika-tui health`: a
        scheduler planned the last slot) unless another process planned it already."""
        await self.engine.plan(trigger=Trigger.STARTUP)
        now = self.clock.now()
        slot = current_slot(now, self.settings)
        async with self._tick_lock:
            if self.last_tick_slot is not None and slot <= self.last_tick_slot:
                return  # a tick came first
            self.last_tick_slot = slot
            if await self.engine.note_slot(slot):
                self.last_planned_by_us = True
            # else someone planned this slot before we started (maybe our own last run): the next tick tells

    async def tick(self) -> None:
        """Plan the current slot, once across every process sharing the database."""
        async with self._tick_lock:
            slot = current_slot(self.clock.now(), self.settings)
            if self.last_tick_slot is not None and slot <= self.last_tick_slot:
                return  # this slot was ticked already (watchdog and APScheduler raced)
            self.last_tick_slot = slot
            local = slot.astimezone(self.settings.tz).strftime("%H:%M %Z")
            try:
                result = await self.engine.plan(trigger=Trigger.SCHEDULE, slot=slot)
            except Exception as exc:  # a failed tick must not kill the scheduler
                # the database's own trouble is told by the event; only a bug earns a traceback
                log.log(
                    logging.DEBUG if isinstance(exc, StoreError) else logging.ERROR,
                    "planning the %s slot failed",
                    local,
                    exc_info=True,
                )
                self.engine.bus.emit(Kind.ERROR, f"planning the {local} slot failed: {exc}", level=Level.ERROR)
                return
            self.last_planned_by_us = result.slot_taken
            if result.slot_taken:
                await self.engine.prune_history()
                later = f", {len(result.skipped_budget)} left for later by their quota" if result.skipped_budget else ""
                self.engine.bus.emit(
                    Kind.TICK,
                    f"slot {local}: queued {len(result.queued)}, skipped {len(result.skipped_recent)}"
                    f" recently synced, {len(result.already_live)} already queued{later}; next {self._next_text()}",
                    data={
                        "slot": slot.isoformat(),
                        "queued": len(result.queued),
                        "left_for_quota": len(result.skipped_budget),
                    },
                )
            else:
                self.engine.bus.emit(Kind.TICK, f"slot {local} was planned by another process", level=Level.DEBUG)

    # -- the watchdog ----------------------------------------------------------------------
    def check_stall(self) -> dt.timedelta | None:
        """How overdue the current slot's tick is, when it is past the grace; else None."""
        if self._paused or self._aps is None:
            return None
        now = self.clock.now()
        due = current_slot(now, self.settings)
        owed = self.last_tick_slot + self.settings.interval if self.last_tick_slot else self._first_slot
        if owed is None or due < owed:
            return None
        late = now - due
        return late if late > STALL_GRACE else None

    async def _watch(self) -> None:
        period = min(60.0, self.settings.interval.total_seconds() / 4)
        while True:
            await asyncio.sleep(period)
            await self.watch_once()

    async def watch_once(self) -> None:
        """One watchdog look: report a stall loudly (once per slot) and fire a catch-up tick."""
        late = self.check_stall()
        if late is None:
            return
        due = current_slot(self.clock.now(), self.settings)
        if self._stall_reported_for != due:
            self._stall_reported_for = due
            message = (
                f"scheduler stalled: the {due.astimezone(self.settings.tz):%H:%M %Z} tick is "
                f"{int(late.total_seconds() // 60)} min late; firing it now"
            )
            log.error(message)
            self.engine.bus.emit(Kind.WARNING, message, level=Level.ERROR)
        await self.tick()
