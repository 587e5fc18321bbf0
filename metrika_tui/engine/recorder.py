"""Writes what the engine sees to the store in batches, off the hot path: its events (the
shared event log) and the requests it sends (each login's count of the day)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter as Tally
from collections.abc import Callable, Sized
from typing import Generic, TypeVar

from metrika_tui.clock import Clock, SystemClock
from metrika_tui.engine.ports import Heard
from metrika_tui.events import Event
from metrika_tui.store.store import Store, quota_day
from metrika_tui.tokens import Token

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.25

B = TypeVar("B", bound=Sized)


class _BatchWriter(Generic[B]):
    """A buffer a background task writes to the store every quarter second (and on `flush`)."""

    what = "records"

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._failing = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=type(self).__name__)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            await self.flush()

    def _take(self) -> B:
        raise NotImplementedError

    async def _write(self, batch: B) -> None:
        raise NotImplementedError

    def _give_back(self, batch: B) -> None:
        """A batch the store refused: kept for the next flush, or dropped."""

    async def flush(self) -> None:
        async with self._lock:
            batch = self._take()
            if not batch:
                return
            try:
                await self._write(batch)
            except Exception as exc:  # best effort; the sync is what matters
                if not self._failing:  # once per streak, and no traceback: the user can do nothing with one
                    log.warning("could not record %d %s in the database: %s", len(batch), self.what, exc)
                self._failing = True
                self._give_back(batch)
            else:
                self._failing = False

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()


class EventRecorder(_BatchWriter[list[Event]]):
    """A bus subscriber: the events go to the store's shared event log (other processes show them)."""

    what = "event(s)"

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store
        self._buffer: list[Event] = []

    def __call__(self, event: Event) -> None:
        if event.id is None:  # events read back from the log are not written again
            self._buffer.append(event)

    def _take(self) -> list[Event]:
        batch, self._buffer = self._buffer, []
        return batch

    async def _write(self, batch: list[Event]) -> None:
        await self.store.append_events(batch)


class UsageRecorder(_BatchWriter[Tally[tuple[Token, str]]]):
    """A client request listener: every request sent counts toward its login's day in the
    store, where every process sharing the database adds its own and the planner reads them."""

    what = "request count(s)"

    def __init__(self, store: Store, clock: Clock | None = None) -> None:
        super().__init__()
        self.store = store
        self.clock = clock or SystemClock()
        self._sent: Tally[tuple[Token, str]] = Tally()

    def __call__(self, token: Token) -> None:
        self._sent[(token, quota_day(self.clock.now())[0])] += 1

    def _take(self) -> Tally[tuple[Token, str]]:
        batch, self._sent = self._sent, Tally()
        return batch

    async def _write(self, batch: Tally[tuple[Token, str]]) -> None:
        await self.store.add_usage(batch)

    def _give_back(self, batch: Tally[tuple[Token, str]]) -> None:
        self._sent.update(batch)  # counts matter to the budget: try again with the next batch


def listen_to_requests(client: object, listener: Callable[[Token], None]) -> bool:
    """Have the client tell `listener` of each request it sends, if it can (a test's fake may not)."""
    if not isinstance(client, Heard):
        return False
    client.add_request_listener(listener)
    return True
