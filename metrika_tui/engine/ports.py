"""What the engine needs from the outside world, as protocols, so tests can hand it fakes."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from metrika_tui.models import Counter, Report
from metrika_tui.tokens import Token


class MetrikaApi(Protocol):
    """The subset of the Metrika API a sync uses. `metrika_tui.metrika.MetrikaClient` is one.

    Every method raises only `metrika_tui.metrika.errors.MetrikaError` subclasses.
    """

    async def list_counters(self, token: Token) -> list[Counter]:
        """Every counter the token can see, all pages read."""
        ...

    async def get_counter(self, token: Token, counter_id: int) -> Counter: ...

    async def daily_report(
        self, token: Token, counter_id: int, date1: dt.date, date2: dt.date
    ) -> Report:
        """Daily figures (rows: DailyStat, one per day with data), all pages read."""
        ...

    async def monthly_users(
        self, token: Token, counter_id: int, date1: dt.date, date2: dt.date
    ) -> Report:
        """Users at month grain (rows: MonthUsers) for the months the window touches."""
        ...


class YandexIdApi(Protocol):
    """Yandex ID as the engine uses it; `metrika_tui.metrika.oauth.YandexIdClient` is one.

    Results and errors are `metrika_tui.metrika.oauth`'s (typed grants, its taxonomy)."""

    async def request_device_code(self, app, *, device_id: str, device_name: str): ...

    async def poll_device_token(self, app, code): ...

    async def refresh(self, app, refresh_token: Token): ...

    async def identity(self, token: Token): ...


class Clock(Protocol):
    """Now, in UTC. Injected so leases, quotas and schedules can be tested without waiting."""

    def now(self) -> dt.datetime: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)
