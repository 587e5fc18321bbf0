"""What the engine needs from the outside world, as protocols, so tests can hand it fakes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from metrika_tui.models import Counter, Report, ReportRequest
from metrika_tui.tokens import Token


class MetrikaApi(Protocol):
    """The subset of the Metrika API a sync uses. `metrika_tui.metrika.MetrikaClient` is one.

    Every method raises only `metrika_tui.metrika.errors.MetrikaError` subclasses. `login`
    is the token's Yandex login: Metrika's per-user quotas are the login's.
    """

    async def list_counters(self, token: Token, *, login: str | None = None) -> list[Counter]:
        """Every counter the token can see, all pages read."""
        ...

    async def get_counter(self, token: Token, counter_id: int, *, login: str | None = None) -> Counter: ...

    async def read_window(
        self, token: Token, counter_id: int, requests: Sequence[ReportRequest], *, login: str | None = None
    ) -> list[Report]:
        """Each report request of one sync, all pages read: daily rows (DailyStat) with the
        range's totals, or users by month (MonthUsers)."""
        ...


class YandexIdApi(Protocol):
    """Yandex ID as the engine uses it; `metrika_tui.metrika.oauth.YandexIdClient` is one.

    Results and errors are `metrika_tui.metrika.oauth`'s (typed grants, its taxonomy)."""

    async def request_device_code(self, app, *, device_id: str, device_name: str): ...

    async def poll_device_token(self, app, code): ...

    async def refresh(self, app, refresh_token: Token): ...

    async def identity(self, token: Token): ...
