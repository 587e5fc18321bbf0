"""The event bus: every step of a sync published, once, to whoever listens.

The bus is in-process and synchronous (publishing never blocks the engine); the log pane,
the log file, the headless output and the store's event log are all subscribers. Events
from other processes sharing the database reach the console through the store's event
log, with their `origin` set to that process. What an event is lives in `metrika_tui.events`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from metrika_tui.clock import Clock, SystemClock
from metrika_tui.events import Event, Kind

log = logging.getLogger(__name__)

Subscriber = Callable[[Event], None]


class Listeners:
    """A list of subscribers told of each event in turn; one failing never stops the others."""

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


class EventBus(Listeners):
    """The engine's fan-out; `emit` stamps each event with the engine's clock."""

    def __init__(self, clock: Clock | None = None) -> None:
        super().__init__()
        self.clock = clock or SystemClock()

    def emit(self, kind: Kind, message: str, **fields: Any) -> Event:
        fields.setdefault("ts", self.clock.now())
        event = Event(kind, message, **fields)
        self.publish(event)
        return event
