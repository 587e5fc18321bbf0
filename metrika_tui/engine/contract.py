"""What the console and the commands need of the engine and its runtime, as typed Protocols.

The console (tui/) holds a `ConsoleRuntime` and reaches the engine only through its
`ConsoleEngine`; the commands (cli/) get a `CommandEngine` from `cli.session`. The real
`Engine` and `Runtime` satisfy them, and so do the console tests' fakes
(tests/tui/fake_engine.py): mypy checks both, here (`_real_ones`) and at the end of the fake
module. A method the console starts to call is added here first, or mypy says where it is
missing.

Counter ids are Metrika's (ints, globally unique); account ids are the store's. Every step
of the engine publishes an `events.Event` on `engine.bus` and records it in the store's
event log, so a runtime's `subscribe` hears other processes' events too (within a second).
What the engine does is said by its methods' docstrings (engine/service.py); outside the
facade, `engine.health.check_health` and `engine.export` serve one command each.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from metrika_tui.clock import Clock
from metrika_tui.engine.login import DeviceLogin
from metrika_tui.engine.passes import PassProgress, PassReport, PlanResult
from metrika_tui.engine.ports import EngineParts
from metrika_tui.engine.service import CounterDetail, EngineSnapshot
from metrika_tui.events import Event
from metrika_tui.jobs import Trigger
from metrika_tui.settings import Settings
from metrika_tui.store import Account, JobRecord
from metrika_tui.tokens import Token

#: the store's rows the console sees (it imports no store/ module itself: `tui-through-engine`)
__all__ = ["Account", "CommandEngine", "ConsoleEngine", "ConsoleRuntime", "JobRecord"]


class ConsoleEngine(Protocol):
    """What the console's keys and its view ask of the engine."""

    @property
    def clock(self) -> Clock:
        """The engine's time, which the view's states turn by (`EngineSnapshot.clock_change_at`)."""
        ...

    async def snapshot(
        self, *, changed: set[int] | None = None, base: EngineSnapshot | None = None
    ) -> EngineSnapshot: ...

    async def plan(self, *, force: bool = ..., trigger: Trigger = ...) -> PlanResult: ...

    async def force_sync(self, counter_id: int) -> PlanResult: ...

    async def set_counter_active(self, counter_id: int, active: bool) -> None: ...

    async def retry_failed(self, counter_id: int | None = None) -> int: ...

    async def failed_jobs(self) -> list[JobRecord]: ...

    async def counter_detail(self, counter_id: int) -> CounterDetail: ...

    async def add_account_or_refuse(self, token: Token, *, user_id: str | None = None) -> tuple[Account, int]: ...

    async def start_login_or_refuse(self) -> DeviceLogin: ...


class ConsoleRuntime(Protocol):
    """What the console asks of the runtime: its engine once started, its scheduler, its events."""

    @property
    def settings(self) -> Settings: ...

    @property
    def engine(self) -> ConsoleEngine | None:
        """None until `start` has opened it."""
        ...

    @property
    def describe_db(self) -> str: ...

    @property
    def scheduler_state(self) -> str: ...

    @property
    def next_scheduled_sync_at(self) -> dt.datetime | None: ...

    def pause_scheduler(self) -> None: ...

    def resume_scheduler(self) -> None: ...

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Every event, this process's and other processes' alike; returns the unsubscribe."""
        ...

    async def start(self) -> None: ...

    async def stop(self, grace: float = ...) -> None: ...

    def hurry(self) -> None:
        """Stopping, asked again: give the running jobs back now."""
        ...


class CommandEngine(EngineParts, Protocol):
    """What the commands ask of the engine, besides the parts the engine's helpers use."""

    async def snapshot(
        self, *, changed: set[int] | None = None, base: EngineSnapshot | None = None
    ) -> EngineSnapshot: ...

    async def run_pass(
        self,
        *,
        trigger: Trigger,
        force: bool = ...,
        account_id: int | None = ...,
        counter_id: int | None = ...,
        wait: bool = ...,
        max_wait: dt.timedelta | None = ...,
        progress: PassProgress | None = ...,
    ) -> PassReport: ...

    def request_stop(self, grace: float) -> None: ...

    async def set_counter_active(self, counter_id: int, active: bool) -> None: ...

    async def counter_accounts(self) -> dict[int, tuple[int, ...]]: ...


if TYPE_CHECKING:
    from metrika_tui.engine.runtime import Runtime
    from metrika_tui.engine.service import Engine

    def _real_ones(engine: Engine, runtime: Runtime) -> None:
        """For mypy only: the real engine and runtime are what the console and the commands take."""
        console: ConsoleEngine = engine
        command: CommandEngine = engine
        held: ConsoleRuntime = runtime
        del console, command, held
