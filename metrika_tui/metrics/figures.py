"""What every process sharing the database sees the same, read when a scrape asks.

The counters' states and data ages come from the engine's snapshot, which costs a second
of Python at 100,000 counters: it is kept, and read again only for the counters the events
named since (a partial snapshot, like the console's), in full when an event names no
counter or a state turns with the clock (`clock_change_at`), and at least every
FULL_READ_EVERY. An idle daemon so reads it about once a slot, however often it is scraped.
The queue and each login's quota change with every request: they are read at each scrape
(cheap reads: live jobs only, one row a login).
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import logging
import statistics
from collections import Counter as Tally
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from metrika_tui.engine.planner import Pace
from metrika_tui.engine.ports import Measured
from metrika_tui.engine.status import CounterState
from metrika_tui.events import Event

if TYPE_CHECKING:
    from metrika_tui.engine.service import Engine, EngineSnapshot
    from metrika_tui.metrics.instruments import PassTracker

log = logging.getLogger(__name__)

#: the snapshot is read in full at least this often (what no event tells still shows)
FULL_READ_EVERY = dt.timedelta(minutes=10)
#: scrapes closer together than this share one read
SHARED_READ = dt.timedelta(seconds=1)


@dataclass(frozen=True)
class Figures:
    """One scrape's shared figures; `read_ok` False: the database did not answer this time,
    and these are the last figures it gave."""

    taken_at: dt.datetime
    states: Mapping[CounterState, int] = field(default_factory=dict)
    #: when each active counter of a live account last synced (POSIX seconds), ascending
    synced_at: tuple[float, ...] = ()
    jobs: Mapping[str, int] = field(default_factory=dict)  # queued, deferred, running
    paces: Mapping[str, Pace] = field(default_factory=dict)
    #: the report budget used in the last window, per login (this process's client)
    report_used: Mapping[str, float] = field(default_factory=dict)
    read_ok: bool = True

    def ages(self, now: dt.datetime) -> list[float]:
        """Every synced counter's data age in seconds, oldest first."""
        ts = now.timestamp()
        return [ts - at for at in self.synced_at]

    def oldest_age(self, now: dt.datetime) -> float | None:
        return now.timestamp() - self.synced_at[0] if self.synced_at else None

    def median_age(self, now: dt.datetime) -> float | None:
        return now.timestamp() - statistics.median(self.synced_at) if self.synced_at else None

    def at_most(self, now: dt.datetime, seconds: float) -> int:
        """How many synced counters' data is at most `seconds` old."""
        return len(self.synced_at) - bisect.bisect_left(self.synced_at, now.timestamp() - seconds)


class FigureKeeper:
    """Keeps the engine's snapshot current enough for a scrape, as the events say it changed."""

    def __init__(self, engine: Engine, passes: PassTracker | None = None) -> None:
        self.engine = engine
        self.passes = passes  # to reconcile with the queue, if any
        self._snapshot: EngineSnapshot | None = None
        self._read_in_full_at: dt.datetime | None = None
        self._changed: set[int] | None = None  # None: read in full next time
        self._last: Figures | None = None
        self._lock = asyncio.Lock()

    def note(self, event: Event) -> None:
        """An event (this process's or another's): what changed, for the next read."""
        if event.counter_id is None:
            self._changed = None
        elif self._changed is not None:
            self._changed.add(event.counter_id)

    async def figures(self) -> Figures:
        """The figures now; a read that fails keeps the last ones (read_ok False)."""
        async with self._lock:
            now = self.engine.clock.now()
            if self._last is not None and now - self._last.taken_at < SHARED_READ:
                return self._last
            try:
                self._last = await self._read(now)
            except Exception as exc:  # the database locked or gone: say so in the figures, keep serving
                log.warning("reading the figures for /metrics failed: %s", exc)
                self._changed = None  # what changed meanwhile is not known: read in full next time
                last = self._last or Figures(taken_at=now)
                self._last = Figures(
                    now, last.states, last.synced_at, last.jobs, last.paces, last.report_used, read_ok=False
                )
            return self._last

    async def _read(self, now: dt.datetime) -> Figures:
        snapshot = await self._current_snapshot(now)
        store = self.engine.store
        jobs = await store.live_job_counts(now)
        paces = await self.engine.paces(now)
        if self.passes is not None and (pending := self.passes.pending):
            live = await store.live_counter_ids(pending)
            failed = {
                row.id
                for row in await store.counter_rows(ids=pending - live)
                if row.last_error is not None or row.account_revoked
            }
            self.passes.reconcile(live, failed)
        synced = sorted(
            c.last_fetched_at.timestamp()
            for c in snapshot.counters
            if c.last_fetched_at is not None and c.active and not c.account_revoked
        )
        states = Tally(c.state for c in snapshot.counters)
        return Figures(
            now, {state: states[state] for state in CounterState}, tuple(synced), jobs, paces, self._report_used()
        )

    async def _current_snapshot(self, now: dt.datetime) -> EngineSnapshot:
        snapshot, changed = self._snapshot, self._changed
        due_in_full = (
            snapshot is None
            or changed is None
            or self._read_in_full_at is None
            or now - self._read_in_full_at >= FULL_READ_EVERY
            or (snapshot.clock_change_at is not None and now >= snapshot.clock_change_at)
        )
        self._changed = set()  # what happens from here on counts for the next read
        if due_in_full or snapshot is None:
            snapshot = self._snapshot = await self.engine.snapshot()
            self._read_in_full_at = now
        elif changed:
            snapshot = self._snapshot = await self.engine.snapshot(changed=changed, base=snapshot)
        return snapshot

    def _report_used(self) -> dict[str, float]:
        """1 - headroom of each login's report budget (the client's keys: ("login", name))."""
        stats = self.engine.client.stats() if isinstance(self.engine.client, Measured) else None
        if stats is None:
            return {}
        return {
            key[1]: 1.0 - share
            for key, share in stats.report_headroom.items()
            if isinstance(key, tuple) and len(key) == 2 and key[0] == "login"
        }
