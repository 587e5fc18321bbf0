"""The long-running engine: store, client, worker pool, scheduler, and other processes' events.

The console and the headless daemon both run exactly this; they differ only in what
they show. No Textual here (the daemon must not load it).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from metrika_tui.clock import Clock
from metrika_tui.engine.events import Listeners
from metrika_tui.engine.scheduler import Scheduler
from metrika_tui.events import ORIGIN, Event, Kind, Level
from metrika_tui.settings import Settings

if TYPE_CHECKING:
    from metrika_tui.engine.service import Engine

log = logging.getLogger(__name__)

#: how often other processes' events are read from the shared event log
FOLLOW_PERIOD = 0.5
#: how long stop() lets a token refresh under way finish (its answer must be stored, or lost)
CARE_STOP_GRACE = 15.0


class Runtime:
    """One process's share of the sync: plans its slots, works the queue, sees everyone's events."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        schedule: bool = True,
        workers: bool = True,
        engine: Engine | None = None,
        on_engine: Callable[[Runtime], None] | None = None,
        prepare: Callable[[Engine], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._schedule = schedule
        self._workers = workers
        self.engine = engine
        #: told once the engine is open, before workers and scheduler start (the metrics attach)
        self._on_engine = on_engine
        #: awaited with the open engine before anything runs (the CLI's demo seeding)
        self._prepare = prepare
        self.scheduler: Scheduler | None = None
        #: this process's events (relayed from the engine's bus) and other processes' alike
        self._listeners = Listeners()
        if engine is not None:
            engine.bus.subscribe(self._listeners.publish)
        self._follower: asyncio.Task[None] | None = None
        self._care_task: asyncio.Task[None] | None = None
        self._care_idle = asyncio.Event()  # set while no care pass is under way
        self._care_idle.set()
        self._last_foreign_id: int | None = None
        self._started = False

    @property
    def opened(self) -> Engine:
        """The engine, once start() has opened it (or the one given)."""
        if self.engine is None:
            raise RuntimeError("the runtime has not opened its engine yet")
        return self.engine

    # -- what the console reads ------------------------------------------------------------
    @property
    def describe_db(self) -> str:
        return ("demo: " if self.settings.demo else "") + str(self.settings.db_path)

    @property
    def scheduler_state(self) -> str:
        return self.scheduler.state if self.scheduler else "off"

    @property
    def next_scheduled_sync_at(self) -> dt.datetime | None:
        return self.scheduler.next_run_at if self.scheduler else None

    def pause_scheduler(self) -> None:
        if self.scheduler:
            self.scheduler.pause()

    def resume_scheduler(self) -> None:
        if self.scheduler:
            self.scheduler.resume()

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Every event: this process's as they happen, other processes' within a second."""
        return self._listeners.subscribe(callback)

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the engine (if not given), start workers and the scheduler, catch up on start."""
        from metrika_tui.engine.service import Engine

        if self.engine is None:
            self.engine = await Engine.open(self.settings, clock=self.clock)
            self.engine.bus.subscribe(self._listeners.publish)
        engine = self.engine
        self._started = True  # from here on, stop() owns closing what start opened
        try:
            if self._on_engine is not None:
                self._on_engine(self)
            if self._prepare is not None:
                await self._prepare(engine)
            self._last_foreign_id = await engine.last_event_id()
            self._follower = asyncio.get_running_loop().create_task(self._follow(), name="event-follower")
            self._care_task = asyncio.get_running_loop().create_task(self._care_for_tokens(), name="token-care")
            if self._workers:
                await engine.start_workers(self.settings.workers)
            if self._schedule:
                self.scheduler = engine.scheduler = Scheduler(engine, clock=self.clock)
                self.scheduler.start()
                await self.scheduler.catch_up()  # whatever is due now does not wait for the next slot
        except BaseException:  # a failed or cancelled start (quit during start-up) leaves nothing open
            await self.stop()
            raise

    async def stop(self, grace: float = 10.0) -> None:
        """Stop planning, let running jobs finish within `grace`, give back the other leases."""
        if not self._started:
            return
        self._started = False
        if self.scheduler:
            await self.scheduler.stop()
        if self._follower:
            self._follower.cancel()
            await asyncio.gather(self._follower, return_exceptions=True)
        await self._stop_token_care()
        if self.engine:
            with contextlib.suppress(Exception):
                await self.engine.stop_workers(grace)
            await self.engine.close()

    def hurry(self) -> None:
        """Stopping, asked again: give the running jobs back now instead of waiting for them."""
        if self.engine:
            self.engine.pool.hurry()

    async def reload(self, settings: Settings) -> None:
        """Apply new settings (SIGHUP): a new interval or zone reschedules; workers resize."""
        old, engine = self.settings, self.opened
        self.settings = settings
        engine.settings = settings
        if self.scheduler and (old.interval_minutes, old.timezone) != (
            settings.interval_minutes,
            settings.timezone,
        ):
            await self.scheduler.stop()
            self.scheduler = engine.scheduler = Scheduler(engine, clock=self.clock)
            self.scheduler.start()
        if self._workers and settings.workers != old.workers:
            await engine.stop_workers(grace=30.0)
            await engine.start_workers(settings.workers)
        engine.bus.emit(Kind.INFO, "configuration reloaded")

    async def _care_for_tokens(self) -> None:
        """Refresh tokens before they expire (`token_care`): at start, then every CARE_PERIOD."""
        from metrika_tui.engine.token_care import CARE_PERIOD, TokenCare

        engine = self.opened
        care = TokenCare(engine)
        while True:
            self._care_idle.clear()
            try:
                await care.run()
            except Exception as exc:  # the database's trouble, a bug: say so, try again later
                log.debug("token care failed", exc_info=True)
                engine.bus.emit(Kind.WARNING, f"checking the tokens failed: {exc}", level=Level.WARNING)
            finally:
                self._care_idle.set()
            await asyncio.sleep(CARE_PERIOD.total_seconds())

    async def _stop_token_care(self) -> None:
        """Cancel the wait between passes at once; a pass under way gets CARE_STOP_GRACE to
        store what Yandex ID answered (a refreshed token not stored would be lost)."""
        task, self._care_task = self._care_task, None
        if task is None:
            return
        if not self._care_idle.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._care_idle.wait()), CARE_STOP_GRACE)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def _follow(self) -> None:
        """Relay other processes' events (from the shared event log) to our listeners."""
        engine = self.opened
        while True:
            await asyncio.sleep(FOLLOW_PERIOD)
            try:
                events = await engine.events_since(self._last_foreign_id)
            except Exception:
                log.debug("reading the shared event log failed", exc_info=True)
                continue
            for event in events:
                self._last_foreign_id = max(self._last_foreign_id or 0, event.id or 0)
                if event.origin != ORIGIN:
                    self._listeners.publish(event)
