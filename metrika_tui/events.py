"""What an event is, and how one is written as a line: every step of a sync says what happened, once.

A leaf module: the store keeps events, the engine publishes them (`engine.events.EventBus`), and
the console's log pane, the daemon's stdout and the log file all write them through `event_text`
or `event_json` here, so the three always say the same words. The message is outside text (names,
the API's words): it goes through `text.visible` (or `text.dumps`), so one event is one line.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from metrika_tui.text import dumps, visible

#: who published: host and pid, so the console can tell its own events from a daemon's
ORIGIN = f"{socket.gethostname()}:{os.getpid()}"

#: the stamp of the log file's and the daemon's lines; the log pane shows the time of day only
FULL_STAMP = "%Y-%m-%d %H:%M:%S"
TIME_STAMP = "%H:%M:%S"


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
    """One step. `ts` is the publisher's clock (the bus sets it); the wall's when built by hand."""

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


def event_text(event: Event, *, tz: dt.tzinfo | None = None, stamp: str = FULL_STAMP) -> str:
    """`2026-03-14 12:03:07 WARNING retrying counter=101 [other: host:4242] 429: quota…`: the time
    in `tz` (the local zone by default), then level, kind, counter, who did it when it was
    another process sharing the database, and the message made visible."""
    where = f" counter={event.counter_id}" if event.counter_id is not None else ""
    by = f"[other: {visible(event.origin)}] " if event.origin != ORIGIN else ""
    return f"{event.ts.astimezone(tz):{stamp}} {event.level.upper():<7} {event.kind:<8}{where} {by}{visible(event.message)}"


def event_json(event: Event) -> str:
    """One JSON object for collectors, escaped so that it is safe on a terminal too."""
    return dumps(
        {
            "ts": event.ts.isoformat(),
            "level": event.level.value,
            "kind": event.kind.value,
            "message": event.message,
            "account_id": event.account_id,
            "counter_id": event.counter_id,
            "job_id": event.job_id,
            "origin": event.origin,
            **({"data": event.data} if event.data else {}),
        },
        default=str,
    )


def format_event(event: Event, fmt: str) -> str:
    """The line in the configured `log_format`: "json", or text."""
    return event_json(event) if fmt == "json" else event_text(event)
