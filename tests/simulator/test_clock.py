"""The clocks the simulator, the engine and its client can share."""

from __future__ import annotations

import datetime as dt
import time

from metrika_tui.clock import ShiftingClock


def test_a_shifting_clock_starts_where_told_flows_and_only_jumps_forward():
    start = dt.datetime(2026, 3, 9, 21, 0, tzinfo=dt.UTC)
    clock = ShiftingClock(start)
    first = clock.now()
    assert dt.timedelta() <= first - start < dt.timedelta(seconds=5)
    time.sleep(0.01)
    assert clock.now() > first  # wall time flows through it

    skipped = clock.jump_to(start + dt.timedelta(hours=3))
    assert 3 * 3600 - 5 < skipped <= 3 * 3600
    assert clock.now() >= start + dt.timedelta(hours=3)
    assert clock.jump_to(start) == 0.0  # never back
    assert clock.now() >= start + dt.timedelta(hours=3)
    assert clock.skipped == dt.timedelta(seconds=skipped)


def test_a_shifting_clock_without_a_start_reads_the_wall():
    clock = ShiftingClock()
    assert abs(clock.now() - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=1)
    assert clock.skipped == dt.timedelta()
