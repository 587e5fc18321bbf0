"""Writes engine events to the store's shared event log in batches, off the hot path."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from metrika_tui.engine.events import Event

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.25


class EventRecorder:
    """A bus subscriber: buffers events, a background task flushes them every quarter second."""

    def __init__(self, store) -> None:
        self.store = store
        self._buffer: list[Event] = []
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()
        self._failing = False

    def __call__(self, event: Event) -> None:
        if event.id is None:  # events read back from the log are not written again
            self._buffer.append(event)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="event-recorder")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            batch, self._buffer = self._buffer, []
            if not batch:
                return
            try:
                await self.store.append_events(batch)
            except Exception as exc:  # the log on disk is best effort; the sync is what matters
                if not self._failing:  # once per streak, and no traceback: the user can do nothing with one
                    log.warning("could not record %d event(s) in the database: %s", len(batch), exc)
                self._failing = True
            else:
                self._failing = False

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
