"""The one bridge from the engine to the console: events in, coalesced Textual messages out.

Engine events arrive synchronously from the event bus (and, through the runtime, from
other processes on the same database). The callback only appends to a buffer and marks
the view dirty: it never touches a widget. A short timer then delivers the buffered
events as one `EngineEvents` message and, when anything changed, pulls one
`engine.snapshot()` and delivers it as `SnapshotArrived`, so a burst of a thousand updates
becomes one table reconcile. A snapshot of a big database holds the event loop a while, so
the next one waits a few times as long as the last took: the console stays responsive while
a pass changes everything at once.

A re-read asks only for the counters the events since the last one named (the engine
keeps the rest from that snapshot); an event that names none (a pass planned, an account
revoked), an action, or a state turned with the clock asks for everything.

Relative times ("5m ago") age on an `Ageing` tick, which only repaints what is on screen.
Every state change comes with an event except one: OK turns OVERDUE with the clock alone.
The snapshot says when the soonest such change is due (`clock_change_at`), and the engine
is re-read then, not on a timer: with 100,000 counters a re-read costs seconds of CPU. A
slow timer re-reads anyway, should an event ever be missed.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TypedDict

from textual.dom import DOMNode
from textual.message import Message
from textual.timer import Timer

from metrika_tui.engine.contract import ConsoleRuntime
from metrika_tui.engine.service import EngineSnapshot
from metrika_tui.events import Event

log = logging.getLogger(__name__)

#: how often buffered events are delivered and a dirty view re-read (seconds)
FLUSH_INTERVAL = 0.2
#: how often relative times on screen move on (a repaint, no read)
AGEING_INTERVAL = 10.0
#: how often the view is re-read with no event at all (a backstop: see `clock_change_at`)
RESYNC_INTERVAL = 600.0
#: after a snapshot that took t seconds, the next waits this many t (the UI keeps the rest)
SNAPSHOT_SPACING = 3.0
#: more changed counters than this since the last read: read them all
PARTIAL_LIMIT = 5_000
#: events kept while the UI is busy; older ones are still in the log file and the store
BUFFER_LIMIT = 5_000


class BridgeOptions(TypedDict, total=False):
    """The bridge's pace, for tests and benchmarks (`EngineBridge`'s keywords)."""

    flush_interval: float
    ageing_interval: float
    resync_interval: float
    buffer_limit: int


class EngineEvents(Message):
    """Engine events since the last delivery, oldest first."""

    def __init__(self, events: tuple[Event, ...], dropped: int = 0) -> None:
        super().__init__()
        self.events = events
        self.dropped = dropped


class Ageing(Message):
    """Time has passed: relative times on screen should move on."""


class SnapshotArrived(Message):
    """A fresh `EngineSnapshot`: everything the main screen shows, taken at one moment."""

    def __init__(self, snapshot: EngineSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class SnapshotFailed(Message):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error


class EngineBridge:
    """Subscribes to the runtime's events and feeds `target` coalesced messages."""

    def __init__(
        self,
        runtime: ConsoleRuntime,
        target: DOMNode,
        *,
        flush_interval: float = FLUSH_INTERVAL,
        ageing_interval: float = AGEING_INTERVAL,
        resync_interval: float = RESYNC_INTERVAL,
        buffer_limit: int = BUFFER_LIMIT,
    ) -> None:
        self.runtime = runtime
        self.target = target
        self.flush_interval = flush_interval
        self.ageing_interval = ageing_interval
        self.resync_interval = resync_interval
        self._buffer: deque[Event] = deque(maxlen=buffer_limit)
        self._received = 0
        self._delivered = 0
        self._dirty = True
        self._changed: set[int] | None = None  # counters named since the last read; None: all
        self._last: EngineSnapshot | None = None  # the last snapshot: what a partial read builds on
        self._fetching = False
        self._next_fetch_at = 0.0  # monotonic: spacing after a slow snapshot
        self._clock_change_at: dt.datetime | None = None  # engine's time: a state turns with no event then
        self._unsubscribe: Callable[[], None] | None = None
        self._timers: list[Timer] = []
        self.snapshots_taken = 0
        self.ageing_ticks = 0

    # -- wiring ----------------------------------------------------------------------------
    def subscribe(self) -> None:
        """Listen before the runtime starts, so no event of the start-up is missed."""
        self._unsubscribe = self.runtime.subscribe(self.receive)

    def start(self) -> None:
        self._timers = [
            self.target.set_interval(self.flush_interval, self.flush, name="bridge-flush"),
            self.target.set_interval(self.ageing_interval, self.age, name="bridge-ageing"),
            self.target.set_interval(self.resync_interval, self.mark_dirty, name="bridge-resync"),
        ]

    def close(self) -> None:
        for timer in self._timers:
            timer.stop()
        self._timers = []
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None

    # -- the engine side: cheap, never touches a widget ------------------------------------
    def receive(self, event: Event) -> None:
        self._buffer.append(event)
        self._received += 1
        self._dirty = True
        if event.counter_id is None or self._changed is None or len(self._changed) >= PARTIAL_LIMIT:
            self._changed = None
        else:
            self._changed.add(event.counter_id)

    def mark_dirty(self) -> None:
        """Re-read everything at the next flush (after an action, or a state turned with the clock)."""
        self._dirty = True
        self._changed = None

    @property
    def settled(self) -> bool:
        """Nothing buffered, nothing to re-read, no read in flight: every news given to the bridge
        has been delivered, and nothing more comes until the engine says something."""
        return not self._buffer and not self._dirty and not self._fetching

    def age(self) -> None:
        """Relative times move on; and if a state has turned with the clock, re-read."""
        self.ageing_ticks += 1
        self.target.post_message(Ageing())
        engine, change = self.runtime.engine, self._clock_change_at
        if change is not None and engine is not None and engine.clock.now() >= change:
            self._clock_change_at = None
            self.mark_dirty()

    # -- the UI side -------------------------------------------------------------------------
    async def flush(self) -> None:
        """Deliver buffered events as one message, and one fresh snapshot if anything changed."""
        if self._buffer:
            events = tuple(self._buffer)
            self._buffer.clear()
            dropped = self._received - self._delivered - len(events)
            self._delivered = self._received
            self.target.post_message(EngineEvents(events, dropped))
        ready = not self._fetching and time.monotonic() >= self._next_fetch_at
        if self._dirty and ready and self.runtime.engine is not None:
            self._dirty = False
            self._fetching = True
            self.target.run_worker(self._fetch(), group="bridge-snapshot", exit_on_error=False)

    async def _fetch(self) -> None:
        started = time.monotonic()
        changed, self._changed = self._changed, set()
        try:
            engine = self.runtime.engine
            if engine is None:  # flush asks only once it is open; it is never closed under the console
                raise RuntimeError("the engine is not open")
            snapshot = await engine.snapshot(changed=changed, base=self._last)  # None: all
        except Exception as exc:  # the UI shows it; the engine keeps going
            log.debug("snapshot failed", exc_info=True)
            self._changed = None  # what changed is unknown now: read everything next time
            self.target.post_message(SnapshotFailed(exc))
        else:
            self._last = snapshot
            self.snapshots_taken += 1
            self._clock_change_at = snapshot.clock_change_at
            self.target.post_message(SnapshotArrived(snapshot))
        finally:
            self._fetching = False
            ended = time.monotonic()
            self._next_fetch_at = ended + SNAPSHOT_SPACING * (ended - started)
