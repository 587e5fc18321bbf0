"""Engine events: every step of a sync says what happened, once, to whoever listens.

The bus is in-process and synchronous (publishing never blocks the engine); the log pane,
the log file, the headless output and the store's event log are all subscribers. Events
from other processes sharing the database reach the console through the store's event
log, with their `origin` set to that process.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from metrika_tui.text import visible

log = logging.getLogger(__name__)

#: who published: host and pid, so the console can tell its own events from a daemon's
ORIGIN = f"{socket.gethostname()}:{os.getpid()}"


class Kind(StrEnum):
    PLANNED = "planned"  # a pass was planned (n queued, n skipped)
    QUEUED = "queued"  # one counter's job entered the queue
    STARTED = "started"  # a worker claimed the job
    FETCHED = "fetched"  # a report came back (n rows)
    RETRYING = "retrying"  # a transient error or short quota, trying again
    DEFERRED = "deferred"  # back to the queue until a time (quota reset, backoff)
    FAILED = "failed"  # the job gave up; the error is kept
    DONE = "done"  # the counter is in sync
    REVOKED = "revoked"  # a dead token revoked its account
    TICK = "tick"  # the scheduler fired
    INFO = "info"  # anything else worth a line
    WARNING = "warning"
    ERROR = "error"


class Level(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Event:
    kind: Kind
    message: str
    level: Level = Level.INFO
    ts: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    account_id: int | None = None
    counter_id: int | None = None
    job_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    origin: str = ORIGIN
    id: int | None = None  # the store's row id, once persisted

    @property
    def by(self) -> str:
        """`[other: host:pid] ` when another process did it (a shared database), else nothing."""
        return f"[other: {visible(self.origin)}] " if self.origin != ORIGIN else ""

    def line(self) -> str:
        """One human line for the log file and headless stdout (the log pane's is the same from
        the level on); the message is outside text (names, the API's words), made visible: one
        event is always one line."""
        stamp = self.ts.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        return f"{stamp} {self.tail()}"

    def tail(self) -> str:
        """The line after its time: `INFO    done     counter=101 [other: vm:4121] in sync: …`."""
        where = f" counter={self.counter_id}" if self.counter_id is not None else ""
        return f"{self.level.upper():<7} {self.kind:<8}{where} {self.by}{visible(self.message)}"


Subscriber = Callable[[Event], None]


class EventBus:
    """Fan-out of events to subscribers; one failing subscriber never stops the others."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def publish(self, event: Event) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:  # a broken listener must not break a sync
                log.exception("event subscriber %r failed", callback)

    def emit(self, kind: Kind, message: str, **fields: Any) -> Event:
        event = Event(kind, message, **fields)
        self.publish(event)
        return event
