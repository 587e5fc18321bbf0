"""What the engine needs from the outside world, as protocols, so tests can hand it fakes; and
what its helper modules (accounts, login, token care, export) need of the engine itself."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from metrika_tui.clock import Clock
from metrika_tui.engine.events import EventBus
from metrika_tui.models import Counter, Report, ReportRequest
from metrika_tui.settings import Settings
from metrika_tui.store import Store
from metrika_tui.tokens import OAuthApp, Token

if TYPE_CHECKING:  # the client's types, for annotations only: the engine loads the client when it opens one
    from metrika_tui.metrika.oauth import DeviceCode, Identity, TokenGrant
    from metrika_tui.metrika.shared_budget import ReportLedger
    from metrika_tui.metrika.stats import ClientStats


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

    async def request_device_code(self, app: OAuthApp, *, device_id: str, device_name: str) -> DeviceCode: ...

    async def poll_device_token(self, app: OAuthApp, code: DeviceCode) -> TokenGrant: ...

    async def refresh(self, app: OAuthApp, refresh_token: Token) -> TokenGrant: ...

    async def identity(self, token: Token) -> Identity: ...


@runtime_checkable
class Closable(Protocol):
    """A client holding connections (the real ones do; a test's fake may not)."""

    async def aclose(self) -> None: ...


@runtime_checkable
class Measured(Protocol):
    """A client that keeps figures of its requests (the console's header, the metrics)."""

    def stats(self) -> ClientStats: ...


@runtime_checkable
class SharesReportBudget(Protocol):
    """A client whose report budget can be kept in a store several hosts share (PostgreSQL)."""

    def share_report_budget(self, ledger: ReportLedger) -> None: ...


@runtime_checkable
class Heard(Protocol):
    """A client that tells a listener of each request it sends (each login's count of the day)."""

    def add_request_listener(self, listener: Callable[[Token], None]) -> None: ...


class EngineParts(Protocol):
    """The engine's parts its helper modules use (`engine.service.Engine` has them): they take
    the engine, not its parts one by one, and never its workers or its scheduler."""

    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> Store: ...

    @property
    def client(self) -> MetrikaApi: ...

    @property
    def yandex_id(self) -> YandexIdApi | None: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def bus(self) -> EventBus: ...
