"""Textual's terminal driver, made to outlive its terminal (an SSH drop, a closed tmux pane).

Textual writes to the terminal from a thread. After a hang-up every write fails (EIO): the
thread dies, its bounded queue fills, and the next write blocks the event loop, so the
console could neither stop its workers nor give its leases back. Here a failed write is
dropped instead, the terminal's descriptors are pointed away from it (`leave_terminal`),
and the app is told, to stop quietly as on SIGHUP.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import IO, Any

from metrika_tui.stopping import end_silent_input, leave_terminal

try:
    from textual.drivers.linux_driver import LinuxDriver
except ImportError:  # Windows: Textual's own driver, no hang-ups to survive
    LinuxDriver = None  # type: ignore[assignment,misc]


class _HungUpSafe:
    """A file whose failed writes are dropped, telling `on_gone` once."""

    def __init__(self, file: IO[str], on_gone: Callable[[], None]) -> None:
        self._file, self._on_gone, self.gone = file, on_gone, False

    def write(self, text: str) -> None:
        if not self.gone:
            self._guard(self._file.write, text)

    def flush(self) -> None:
        if not self.gone:
            self._guard(self._file.flush)

    def _guard(self, call: Callable[..., Any], *args: Any) -> None:
        try:
            call(*args)
        except (OSError, ValueError):  # EIO / EPIPE; ValueError: the file was closed
            self.gone = True
            self._on_gone()

    def fileno(self) -> int:
        return self._file.fileno()

    def isatty(self) -> bool:
        return self._file.isatty()


if LinuxDriver is not None:

    class HangupSafeDriver(LinuxDriver):
        """LinuxDriver whose output survives the terminal going away (see the module)."""

        def __init__(self, app, **options) -> None:
            super().__init__(app, **options)
            self._app_loop: asyncio.AbstractEventLoop | None = None
            if self._file is not None:  # Textual's stderr: only written and flushed, so a duck-typed file will do
                self._file = _HungUpSafe(self._file, self._hung_up)  # type: ignore[assignment]

        def start_application_mode(self) -> None:
            self._app_loop = asyncio.get_running_loop()
            super().start_application_mode()

        def disable_input(self) -> None:
            end_silent_input()  # the input thread may wait on the silent input: let it end
            super().disable_input()

        def _hung_up(self) -> None:
            """On the writer thread: the terminal is gone."""
            leave_terminal()
            hang_up = getattr(self._app, "terminal_gone", None)
            loop = self._app_loop
            if loop is not None and hang_up is not None and not loop.is_closed():
                loop.call_soon_threadsafe(hang_up)

else:
    HangupSafeDriver = None  # type: ignore[assignment,misc]
