"""The Textual app: wiring only. The runtime comes in; screens, bridge and keys are put together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Mapping

from textual import work
from textual.app import App
from textual.binding import Binding

from metrika_tui.engine.contract import ConsoleRuntime
from metrika_tui.events import Event, Kind, Level
from metrika_tui.stopping import STOP_GRACE_SECONDS, install_stop_signals, leave_terminal, signal_name
from metrika_tui.text import visible
from metrika_tui.tui.bridge import BridgeOptions
from metrika_tui.tui.commands import ConsoleCommands
from metrika_tui.tui.driver import HangupSafeDriver
from metrika_tui.tui.operations import ConsoleOperations
from metrika_tui.tui.screens.main_screen import MainScreen

log = logging.getLogger(__name__)


class MetrikaApp(App[int]):
    """The console of one runtime (`engine.contract.ConsoleRuntime`: the real one, or a test's fake)."""

    TITLE = "metrika-tui"
    COMMANDS = App.COMMANDS | {ConsoleCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit", show=False),  # shown by the main screen, among its first
        Binding("ctrl+p", "command_palette", "Palette", id="command-palette", priority=True, show=False),
    ]

    def __init__(
        self,
        runtime: ConsoleRuntime,
        *,
        read_only: bool = False,
        keys: Mapping[str, str] | None = None,
        bridge_options: BridgeOptions | None = None,
    ) -> None:
        super().__init__(driver_class=HangupSafeDriver)
        self.runtime = runtime
        self.read_only = read_only
        self.keys = dict(runtime.settings.keys if keys is None else keys)
        self.operations = ConsoleOperations(runtime, read_only=read_only)
        self.main_screen = MainScreen(runtime, self.operations, self.keys, bridge_options=bridge_options)
        self._stopped = False
        self._quitting = False
        self._hung_up = False
        self._unhook_signals: Callable[[], None] | None = None
        self.set_keymap(self.keys)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity="information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every toast, of every screen: its words may be outside text (a name, the API's error),
        so they are never parsed as markup and their controls are made visible."""
        options = {} if timeout is None else {"timeout": timeout}
        super().notify(visible(message), title=visible(title), severity=severity, markup=False, **options)

    def on_mount(self) -> None:
        self.push_screen(self.main_screen)  # pushed (not the default screen) so its CSS_PATH loads
        if self.read_only:
            self.sub_title = "read-only"
        self._unhook_signals = install_stop_signals(self._on_stop_signal)
        self._start_runtime()

    @work(exclusive=True, group="runtime")
    async def _start_runtime(self) -> None:
        try:
            await self.runtime.start()
        except Exception as exc:  # show it; the user can still read and quit
            log.exception("the engine did not start")
            self.main_screen.bridge.receive(Event(Kind.ERROR, f"the engine did not start: {exc}", level=Level.ERROR))
            self.notify(f"the engine did not start: {exc}", severity="error", timeout=30)
            return
        self.main_screen.bridge.mark_dirty()

    async def action_quit(self) -> None:
        """Quit cleanly: stop planning, let workers finish or give their leases back."""
        await self._quit("stopping")

    def _on_stop_signal(self, signum: int) -> None:
        """SIGTERM and SIGINT quit like `q`; SIGHUP quietly (the terminal is likely gone).
        A second signal while quitting gives the running jobs back at once."""
        if signum == signal.SIGHUP:
            self.hang_up()
        elif self._quitting:
            self.runtime.hurry()
        else:
            self.run_worker(self._quit(f"{signal_name(signum)}: stopping"), group="quit")

    def hang_up(self) -> None:
        """The terminal hung up (or SIGHUP): stop as on `q`, writing nothing to a terminal
        that is gone (`leave_terminal`; one still there is restored on exit as always).
        A hang-up comes twice (Textual's failed write and the kernel's SIGHUP): only a
        hang-up while quitting for another reason hurries."""
        leave_terminal()
        if self._quitting and not self._hung_up:
            self.runtime.hurry()
        elif not self._quitting:
            self.run_worker(self._quit(None), group="quit")
        self._hung_up = True

    def terminal_gone(self) -> None:
        """Textual could not write to the terminal: it hung up."""
        self.hang_up()

    async def _quit(self, words: str | None) -> None:
        if self._quitting:
            return
        self._quitting = True
        if words:
            self.notify(f"{words}: workers finish or give their jobs back…", timeout=30)
        await self.stop_runtime()
        self.exit(0)

    async def stop_runtime(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for worker in self.workers.cancel_group(self, "runtime"):  # quit during start-up
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await worker.wait()
        try:
            await self.runtime.stop(grace=STOP_GRACE_SECONDS)
        except Exception:
            log.exception("stopping the engine failed")

    async def on_unmount(self) -> None:
        """The terminal went away (SSH drop, ctrl+q): still give the leases back."""
        if self._unhook_signals is not None:
            self._unhook_signals()
        await self.stop_runtime()
