"""The metrics' bookkeeping: passes followed to their end, and the shared figures read again
only as far as the events say they changed (an idle daemon re-reads nothing per scrape)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from stored_world import NOW, stored

from metrika_tui.clock import ManualClock
from metrika_tui.engine.service import Engine
from metrika_tui.engine.status import CounterState
from metrika_tui.events import Event, Kind
from metrika_tui.metrics.figures import FULL_READ_EVERY, FigureKeeper
from metrika_tui.metrics.instruments import PassTracker
from metrika_tui.settings import Settings


def plan(**accounts: list[int]):
    """A PlanResult-like: account id (as a_N) -> its queued counters."""
    return SimpleNamespace(
        accounts=[SimpleNamespace(account_id=int(a[2:]), queued=ids) for a, ids in accounts.items()],
        slot_taken=True,
        skipped_budget=[],
    )


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_pass_ends_when_its_last_counter_is_done_failed_or_revoked():
    observed, clock = [], Ticks()
    passes = PassTracker(observed.append, monotonic=clock, wall=clock)
    passes.planned("schedule", plan(a_1=[1, 2], a_2=[3]))
    clock.now = 130.0
    passes.event(Event(Kind.DONE, "in sync", counter_id=1))
    passes.event(Event(Kind.RETRYING, "503; try 2", counter_id=2))  # not an end
    assert observed == [] and passes.pending == {2, 3}
    passes.event(Event(Kind.DONE, "in sync", counter_id=2))
    passes.event(Event(Kind.DONE, "in sync", counter_id=3, origin="other-host:7"))  # another process worked it
    assert observed == [30.0] and passes.last_success == 130.0

    passes.planned("schedule", plan(a_1=[1], a_2=[3, 4]))
    clock.now = 160.0
    passes.event(Event(Kind.REVOKED, "token rejected", account_id=2))  # 3 and 4 go with their account
    passes.event(Event(Kind.FAILED, "no access", counter_id=1))
    assert observed == [30.0, 30.0] and passes.last_success == 130.0  # a pass with a failure is no success


def test_a_pass_no_event_ends_is_ended_by_the_queue_and_an_empty_slot_is_a_success():
    observed, clock = [], Ticks()
    passes = PassTracker(observed.append, monotonic=clock, wall=clock)
    passes.planned("schedule", plan(a_1=[1, 2]))
    clock.now = 110.0
    passes.reconcile(live={2}, failed=set())  # 1 was disabled: its job cancelled, no event
    passes.reconcile(live=set(), failed={2})
    assert observed == [10.0] and passes.last_success is None
    passes.planned("manual", plan())
    assert passes.last_success is None  # nothing asked by hand is a pass
    passes.planned("schedule", plan())
    assert passes.last_success == 110.0 and observed == [10.0]  # no duration for a pass with nothing to do


@pytest.fixture
async def watched(tmp_path):
    """An engine on a stored world (3 counters), its snapshot calls counted."""
    db = tmp_path / "m.db"
    await stored(db, {"alpha": [1, 2], "beta": [3]}, days=3)
    clock = ManualClock(NOW + dt.timedelta(minutes=5))
    engine = await Engine.open(
        Settings(db_path=db, log_file=tmp_path / "log", api_url="http://127.0.0.1:9"), clock=clock
    )
    calls = []
    real = engine.snapshot

    async def counted(**options):
        calls.append(sorted(options.get("changed") or []) if options else "full")
        return await real(**options)

    engine.snapshot = counted
    try:
        yield engine, clock, calls
    finally:
        await engine.close()


async def test_the_figures_are_read_again_only_as_far_as_events_say(watched):
    engine, clock, calls = watched
    keeper = FigureKeeper(engine)
    first = await keeper.figures()
    assert calls == ["full"] and first.states[CounterState.OK] == 3 and len(first.synced_at) == 3
    assert first.oldest_age(first.taken_at) == pytest.approx(300)
    for _ in range(5):  # an idle daemon, scraped again and again: no snapshot read
        clock.advance(30)
        assert (await keeper.figures()).states[CounterState.OK] == 3
    assert calls == ["full"]
    keeper.note(Event(Kind.QUEUED, "queued", counter_id=2))
    keeper.note(Event(Kind.STARTED, "fetching", counter_id=2))
    clock.advance(30)
    await keeper.figures()
    assert calls == ["full", [2]]  # only what the events named
    keeper.note(Event(Kind.TICK, "slot 12:00"))  # names no counter: everything may have changed
    clock.advance(30)
    await keeper.figures()
    assert calls[-1] == "full"
    clock.advance(FULL_READ_EVERY.total_seconds())
    await keeper.figures()
    assert calls[-1] == "full" and len(calls) == 4  # and now and then in full, whatever the events said


async def test_a_state_turning_with_the_clock_is_read_in_full(watched):
    engine, clock, calls = watched
    keeper = FigureKeeper(engine)
    first = await keeper.figures()
    turns = engine.snapshot  # the snapshot says when an OK counter turns OVERDUE
    snapshot = await turns()
    calls.clear()
    clock.set(snapshot.clock_change_at + dt.timedelta(seconds=1))
    later = await keeper.figures()
    assert calls == ["full"] and later.states[CounterState.OVERDUE] == 3 and first.states[CounterState.OVERDUE] == 0


async def test_a_database_that_does_not_answer_keeps_the_last_figures_marked(watched):
    engine, clock, calls = watched
    keeper = FigureKeeper(engine)
    good = await keeper.figures()

    async def locked(now):
        from metrika_tui.store import StoreError

        raise StoreError("m.db stayed locked by another process for 15s")

    engine.store.live_job_counts = locked
    clock.advance(5)
    bad = await keeper.figures()
    assert not bad.read_ok and bad.states == good.states and bad.taken_at > good.taken_at
