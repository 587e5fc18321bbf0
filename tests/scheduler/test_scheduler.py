"""The tick grid, one plan per slot, coalesced misfires and the stall watchdog — on a fake clock."""

from __future__ import annotations

import datetime as dt

import pytest
from tui.fake_engine import FakeEngine

from metrika_tui.clock import ManualClock
from metrika_tui.engine.scheduler import Scheduler, current_slot, make_trigger, next_slot_after
from metrika_tui.events import Kind
from metrika_tui.settings import Settings
from metrika_tui.store import StoreError

UTC = dt.UTC


def fake_engine(s: Settings, clock: ManualClock, slot_book: dict | None = None, name: str = "a") -> FakeEngine:
    """The shared fake engine (tests/tui/fake_engine.py), with no counters, keeping its events."""
    fake = FakeEngine(s, clock, slot_book=slot_book, name=name)
    fake.bus.subscribe(fake.events.append)
    return fake


def settings(minutes: int = 60, tz: str = "Europe/Moscow") -> Settings:
    return Settings(interval_minutes=minutes, timezone=tz)


def test_hourly_slots_fall_on_the_local_hour():
    s = settings(60, "Asia/Kolkata")  # +05:30: local hours are at :30 UTC
    now = dt.datetime(2026, 11, 28, 10, 10, tzinfo=UTC)
    slot = current_slot(now, s)
    assert slot == dt.datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
    assert slot.astimezone(s.tz).minute == 0
    assert next_slot_after(now, s) == dt.datetime(2026, 11, 28, 10, 30, tzinfo=UTC)


def test_interval_that_does_not_divide_the_hour_is_evenly_spaced():
    s = settings(45)
    now = dt.datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    slots = [current_slot(now + dt.timedelta(minutes=45 * k), s) for k in range(40)]
    gaps = {b - a for a, b in zip(slots, slots[1:])}
    assert gaps == {dt.timedelta(minutes=45)}
    # 45 min divides a day: every local midnight is a slot
    midnight = dt.datetime(2026, 11, 29, tzinfo=s.tz)
    assert current_slot(midnight, s) == midnight.astimezone(UTC)


def test_apscheduler_trigger_fires_on_the_same_grid():
    s = settings(45)
    trigger = make_trigger(s)
    now = dt.datetime(2026, 11, 28, 12, 7, tzinfo=UTC)
    fired = trigger.get_next_fire_time(None, now)
    assert fired.astimezone(UTC) == next_slot_after(now, s)
    following = trigger.get_next_fire_time(fired, fired + dt.timedelta(seconds=1))
    assert following - fired == dt.timedelta(minutes=45)


async def test_each_slot_is_planned_once_across_processes():
    s = settings(30)
    clock = ManualClock(dt.datetime(2026, 11, 28, 12, 0, 1, tzinfo=UTC))
    slots: dict = {}
    a = Scheduler(fake_engine(s, clock, slots, "a"), clock=clock)
    b = Scheduler(fake_engine(s, clock, slots, "b"), clock=clock)
    for _ in range(4):
        await a.tick()
        await b.tick()
        await a.tick()  # a repeated tick in the same slot does nothing
        clock.advance(minutes=30)
    assert len(slots) == 4
    assert len(a.engine.plans) + len(b.engine.plans) == 4
    assert a.engine.plans == sorted(slots)  # a got there first each time
    assert (a.engine.prunes, b.engine.prunes) == (4, 0)  # history is pruned by the planner only
    assert b.last_planned_by_us is False
    b.start()  # what the console's header shows for the process that lost the race
    assert (a.state, b.state) == ("off", "another process plans")
    await b.stop()


async def test_missed_slots_coalesce_into_one_pass():
    s = settings(15)
    clock = ManualClock(dt.datetime(2026, 11, 28, 12, 0, 5, tzinfo=UTC))
    sched = Scheduler(fake_engine(s, clock), clock=clock)
    await sched.tick()
    clock.advance(hours=3)  # suspended: 12 slots missed
    await sched.tick()  # APScheduler (coalesce=True) fires once on wake
    await sched.tick()
    assert sched.engine.plans == [
        dt.datetime(2026, 11, 28, 12, 0, tzinfo=UTC),
        dt.datetime(2026, 11, 28, 15, 0, tzinfo=UTC),
    ]


async def test_a_stalled_scheduler_is_reported_and_caught_up():
    s = settings(10)
    clock = ManualClock(dt.datetime(2026, 11, 28, 12, 1, tzinfo=UTC))
    engine = fake_engine(s, clock)
    sched = Scheduler(engine, clock=clock)
    sched.start()
    try:
        await sched.watch_once()
        assert sched.check_stall() is None  # nothing owed yet
        clock.advance(minutes=10)  # 12:11: the 12:10 tick is 1 min late, within grace
        assert sched.check_stall() is None
        clock.advance(minutes=5)  # 12:16: 6 min late
        assert sched.check_stall() == dt.timedelta(minutes=6)
        await sched.watch_once()
        warnings = [e for e in engine.events if e.kind is Kind.WARNING]
        assert len(warnings) == 1 and "stalled" in warnings[0].message
        assert engine.plans == [dt.datetime(2026, 11, 28, 12, 10, tzinfo=UTC)]
        assert sched.check_stall() is None  # caught up
    finally:
        await sched.stop()


async def test_pause_stops_planning_and_shows_in_state():
    s = settings(60)
    clock = ManualClock(dt.datetime(2026, 11, 28, 12, 1, tzinfo=UTC))
    sched = Scheduler(fake_engine(s, clock), clock=clock)
    sched.start()
    try:
        assert sched.state == "running"
        assert sched.next_run_at == dt.datetime(2026, 11, 28, 13, 0, tzinfo=UTC)
        sched.pause()
        assert sched.state == "paused" and sched.next_run_at is None
        clock.advance(hours=2)
        assert sched.check_stall() is None  # paused is not stalled
        sched.resume()
        assert sched.state == "running"
    finally:
        await sched.stop()
    assert sched.state == "off"


@pytest.mark.parametrize("tz", ["Europe/Moscow", "America/New_York", "UTC"])
def test_slots_agree_between_processes_started_at_different_times(tz):
    s = settings(20, tz)
    base = dt.datetime(2026, 3, 8, 5, 0, tzinfo=UTC)  # a DST change day in New York
    for offset in range(0, 24 * 60, 7):
        now = base + dt.timedelta(minutes=offset)
        slot = current_slot(now, s)
        assert slot <= now < slot + s.interval


async def test_a_tick_on_a_broken_database_reports_and_the_next_one_plans(caplog):
    clock = ManualClock(dt.datetime(2026, 11, 28, 12, 0, 1, tzinfo=UTC))
    engine = fake_engine(settings(30), clock)
    healthy_plan = engine.plan

    async def locked(**_):
        raise StoreError("m.db stayed locked by another process for 5s")

    engine.plan = locked
    sched = Scheduler(engine, clock=clock)
    await sched.tick()
    errors = [e for e in engine.events if e.kind is Kind.ERROR]
    assert len(errors) == 1 and "stayed locked" in errors[0].message
    assert not [r for r in caplog.records if r.levelname == "ERROR"]  # told by the event, no traceback
    engine.plan = healthy_plan
    clock.advance(minutes=30)
    await sched.tick()
    assert len(engine.plans) == 1  # the scheduler lived through it
