"""Every signal is a normal way to stop: SIGTERM, SIGINT and SIGHUP end the console, `sync`
and `--headless --once` the way `q` ends the console. Running jobs get a short grace to
finish, the rest of the leases go back, the terminal is left as it was found.

A hang-up usually means the terminal is gone (an SSH connection dropped, a tmux pane
closed): then nothing more is written to it, quietly. Writing to a hung-up terminal fails
(EIO), so its descriptors are pointed at /dev/null; its input is replaced by a pipe that
never speaks, or a reader waiting on it would spin (a hung-up terminal is always readable,
and always empty).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import threading
from collections.abc import Callable, Iterator

#: the signals that stop a command or the console (the daemon reloads on SIGHUP instead)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
#: after a stop signal (or `q`), running jobs get this long to finish; then they are given back
STOP_GRACE_SECONDS = 5.0
#: what a stop signal's line calls it
_NAMES: dict[int, str] = {signal.SIGTERM: "SIGTERM", signal.SIGINT: "SIGINT", signal.SIGHUP: "SIGHUP"}

_quiet_pipe: tuple[int, int] | None = None  # kept open: its read end stands in for the terminal's input
_lock = threading.Lock()


def signal_name(signum: int) -> str:
    return _NAMES.get(signum, f"signal {signum}")


class PassStop:
    """The stop signals of one pass (`sync`, `--headless --once`), for `stop_signals`: the
    first is kept (`signum`) and told, except a hang-up unless `tell_hangup` (its terminal is
    gone: left quietly); every one calls `stop` (asked again: the leases go back at once)."""

    def __init__(self, tell: Callable[[str], None], stop: Callable[[], None], *, tell_hangup: bool = False) -> None:
        self.tell, self.stop, self.tell_hangup = tell, stop, tell_hangup
        self.signum: int | None = None

    def __call__(self, signum: int) -> None:
        if self.signum is None:
            self.signum = signum
            if signum == signal.SIGHUP:
                leave_terminal()
            if signum != signal.SIGHUP or self.tell_hangup:
                self.tell(
                    f"{signal_name(signum)}: stopping; running jobs get {STOP_GRACE_SECONDS:.0f}s,"
                    " the rest go back to the queue"
                )
        self.stop()

    @property
    def name(self) -> str | None:
        """The first stop signal's name, if one came."""
        return None if self.signum is None else signal_name(self.signum)


def terminal_gone(fd: int) -> bool:
    """A terminal that hung up refuses even an empty write (EIO); a live one, a file or a
    pipe does not (and a descriptor opened for reading only refuses it otherwise)."""
    try:
        os.write(fd, b"")
    except OSError as exc:
        return exc.errno == errno.EIO
    return False


def leave_terminal(fds: tuple[int, ...] = (0, 1, 2)) -> bool:
    """Point the descriptors whose terminal is gone elsewhere (outputs to /dev/null, the
    input to a silent pipe), so that no write fails and no read spins. Returns whether any was."""
    global _quiet_pipe
    gone: list[int] = []
    with _lock, contextlib.suppress(OSError):  # the signal handler and Textual's writer thread may both ask
        gone = [fd for fd in fds if terminal_gone(fd)]
        for fd in gone:
            if fd == 0:
                _quiet_pipe = _quiet_pipe or os.pipe()
                os.dup2(_quiet_pipe[0], 0)
            else:
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, fd)
                os.close(null)
    return bool(gone)


def end_silent_input() -> None:
    """Let a reader blocked on the silent input (after `leave_terminal`) see its end, so that
    it can stop: Textual's input thread, when the console exits."""
    global _quiet_pipe
    with _lock:
        if _quiet_pipe is not None:
            with contextlib.suppress(OSError):
                os.close(_quiet_pipe[1])
            _quiet_pipe = None


def install_stop_signals(on_stop: Callable[[int], None]) -> Callable[[], None]:
    """From now on each stop signal calls `on_stop(signum)` on the running event loop,
    instead of ending the process where it stands. Returns what puts the old handling back."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in STOP_SIGNALS:
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):  # not the main thread
            loop.add_signal_handler(sig, on_stop, sig)
            installed.append(sig)

    def uninstall() -> None:
        for sig in installed:
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
        installed.clear()

    return uninstall


@contextlib.contextmanager
def stop_signals(on_stop: Callable[[int], None]) -> Iterator[None]:
    """`install_stop_signals` while inside."""
    uninstall = install_stop_signals(on_stop)
    try:
        yield
    finally:
        uninstall()
