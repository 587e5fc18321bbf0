"""The report budget of each Yandex login kept where every host sees it (issue 15).

`limits.ReportBudget` books a login's 200 reports per 5 minutes in this process's memory:
right for one process, but N hosts sharing a login would each spend the whole budget. On a
shared store (PostgreSQL) the bookings live in a row per login instead, changed in one
statement (`ReportLedger.book_reports`), so every host's requests together stay under it.
Requests of a token whose login is unknown stay in memory (only this process has them).

Bookings keep the in-memory book's rules: a wait up to `max_wait` is slept, a longer one
raises QuotaError(retry_at=...) for the engine to defer the job; a job's first report may hold
its follow-ups, all or nothing; a held report that leaves later than booked is moved to when
it really left, as the server counts it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Iterator
from typing import Protocol

from metrika_tui.metrika.errors import QuotaError
from metrika_tui.metrika.limits import REPORT_BUDGET, ReportBudget


class ReportLedger(Protocol):
    """The shared book of report requests per login (`store.Store` on PostgreSQL is one)."""

    async def book_reports(
        self, login: str, *, now: dt.datetime, need: int, budget: int, span: dt.timedelta, max_wait: float
    ) -> tuple[dt.datetime, int]:
        """Book `need` report requests of `login` at the first moment from `now` that keeps at
        most `budget` of them in any `span`; (that moment, bookings in the window). Nothing is
        booked when the moment is more than `max_wait` seconds away."""
        ...

    async def move_report(self, login: str, *, booked: dt.datetime, now: dt.datetime) -> None:
        """A request booked for `booked` left at `now`: count it from then."""
        ...


class SharedReportBudget(ReportBudget):
    """A `ReportBudget` whose logins' bookings are kept in a `ReportLedger`."""

    def __init__(self, ledger: ReportLedger, budget: int, window: dt.timedelta, **options: object) -> None:
        super().__init__(budget, window, **options)  # type: ignore[arg-type]
        self.ledger = ledger
        self._shared_held: dict[Hashable, dict[Hashable, list[dt.datetime]]] = {}
        self._shared_used: dict[Hashable, int] = {}

    @staticmethod
    def _login(key: Hashable) -> str | None:
        """The login a key is shared by (`("login", name)`), None for a token alone."""
        if isinstance(key, tuple) and len(key) == 2 and key[0] == "login":
            return str(key[1])
        return None

    async def acquire(self, key: Hashable, *, hold: Hashable | None = None, follow_ups: int = 1) -> float:
        login = self._login(key)
        if login is None:
            return await super().acquire(key, hold=hold, follow_ups=follow_ups)
        held = self._shared_held.setdefault(key, {})
        holding = max(0, min(follow_ups, self.budget - 1)) if hold is not None and hold not in held else 0
        now = self._clock.now()
        moment, used = await self.ledger.book_reports(
            login,
            now=now,
            need=1 + holding,
            budget=self.budget,
            span=self.window + self.margin,
            max_wait=self.max_wait,
        )
        wait = (moment - now).total_seconds()
        if wait > self.max_wait:
            raise QuotaError(
                f"report budget of {self.budget} requests per {self.window.total_seconds():g} s is spent"
                " for this user (every host's requests counted)",
                status=None,
                error_type=REPORT_BUDGET,
                retry_after=wait,
                retry_at=moment,
            )
        self._shared_used[key] = used
        if holding:
            held[hold] = [moment] * holding
        if wait > 0:
            await self._sleep(wait)
        return max(0.0, wait)

    async def spend_held(self, key: Hashable, name: Hashable) -> bool:
        login = self._login(key)
        if login is None:
            return await super().spend_held(key, name)
        slots = self._shared_held.get(key, {}).get(name)
        if not slots:
            return False
        booked = slots.pop(0)
        if not slots:
            del self._shared_held[key][name]
        now = self._clock.now()
        if now > booked:  # the server counts it from when it really goes
            await self.ledger.move_report(login, booked=booked, now=now)
        return True

    def release_held(self, key: Hashable, name: Hashable) -> None:
        if self._login(key) is None:
            super().release_held(key, name)
        else:  # they stay booked until they leave the window, as the server never knew of them
            self._shared_held.get(key, {}).pop(name, None)

    def headroom(self, key: Hashable) -> float:
        if self._login(key) is None:
            return super().headroom(key)
        return max(0.0, 1.0 - self._shared_used.get(key, 0) / self.budget)

    def keys(self) -> Iterator[Hashable]:
        return iter([*super().keys(), *self._shared_used])
