"""Time for the simulator: the system clock, a manual one tests move by hand, or the wall
clock shifted over waits (one the engine, its client and the simulator share).

Quotas and "today" read the clock; nothing in the simulator calls datetime.now() itself,
so a test can walk through a 5-minute quota window without waiting five minutes.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol


class Clock(Protocol):
    """Now, in UTC (the same shape as the engine's clock, so one object can serve both)."""

    def now(self) -> dt.datetime: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class ManualClock:
    """A clock that stands still until told to move."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start or dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
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
