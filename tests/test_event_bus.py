"""The one fan-out: the engine's bus and the runtime's listeners alike."""

from __future__ import annotations

import datetime as dt

from metrika_tui.clock import ManualClock
from metrika_tui.engine.events import EventBus, Listeners
from metrika_tui.events import Event, Kind

T = dt.datetime(2026, 3, 14, 9, 30, tzinfo=dt.UTC)


def test_a_failing_listener_never_stops_the_others_and_unsubscribing_stops_delivery():
    listeners, seen = Listeners(), []

    def broken(event: Event) -> None:
        raise RuntimeError("a listener's bug")

    listeners.subscribe(broken)
    stop = listeners.subscribe(seen.append)
    first = Event(Kind.INFO, "one", ts=T)
    listeners.publish(first)
    stop()
    listeners.publish(Event(Kind.INFO, "two", ts=T))
    assert seen == [first]


def test_the_bus_stamps_events_with_the_engines_clock():
    clock = ManualClock(T)
    bus, seen = EventBus(clock), []
    bus.subscribe(seen.append)
    bus.emit(Kind.DONE, "in sync", counter_id=7)
    clock.advance(minutes=5)
    bus.emit(Kind.DONE, "again", counter_id=7)
    assert [e.ts for e in seen] == [T, T + dt.timedelta(minutes=5)]
    assert bus.emit(Kind.INFO, "given", ts=T).ts == T
