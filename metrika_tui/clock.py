"""Time, in one place: what a clock is, the system's, and two that tests and benchmarks move.

The client, the engine, the events and the simulator all read an injected `Clock`; nothing
else calls `datetime.now()` for a moment that matters, so a test can walk through a lease, a
5-minute quota window or midnight without waiting for it.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol


class Clock(Protocol):
    """Now, as an aware UTC datetime."""

    def now(self) -> dt.datetime: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


#: a ManualClock's moment when none is given
MANUAL_START = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


class ManualClock:
    """A clock that stands still until told to move: tests step it by hand."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start or MANUAL_START
        if self._now.tzinfo is None:
            raise ValueError("a ManualClock needs an aware datetime")

    def now(self) -> dt.datetime:
        return self._now

    def advance(self, seconds: float = 0.0, **delta: float) -> dt.datetime:
        self._now += dt.timedelta(seconds=seconds, **delta)
        return self._now

    def set(self, moment: dt.datetime) -> None:
        self._now = moment


class ShiftingClock:
    """The wall clock plus an offset that only grows: time flows (per-second quotas, leases),
    and a test or a benchmark jumps over a long wait (a quota reset at midnight, the next
    slot) instead of sitting it out. `start`: the moment it reads now (default: the wall's)."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.offset = dt.timedelta() if start is None else start - dt.datetime.now(dt.UTC)
        self.skipped = dt.timedelta()  # every jump, added up

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    def jump_to(self, moment: dt.datetime) -> float:
        """Move on to `moment` (never back); returns the seconds skipped."""
        skip = max(dt.timedelta(), moment - self.now())
        self.offset += skip
        self.skipped += skip
        return skip.total_seconds()
