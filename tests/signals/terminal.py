"""A real terminal for a real `metrika-tui`: a pseudo-terminal it has as its controlling
terminal, its output drained and kept, and the two ways a terminal ends: a signal sent to
the process while the terminal stays, or a hang-up (the terminal's other end closed, as an
SSH connection that drops or a tmux pane that is killed)."""

from __future__ import annotations

import fcntl
import os
import signal
import struct
import subprocess
import sys
import termios
import threading
import time

#: makes the pseudo-terminal its controlling terminal, then becomes `python -m metrika_tui ARGS`
_LAUNCH = (
    "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0);"
    " os.execv(sys.executable, [sys.executable, '-m', 'metrika_tui', *sys.argv[1:]])"
)


class Terminal:
    """`metrika-tui ARGS` on a terminal of `cols` x `rows`."""

    def __init__(self, args: list[str], env: dict[str, str], cols: int = 120, rows: int = 35) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCH, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**env, "TERM": "xterm-256color"},
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: the process and its terminal are gone, or we hung up
                return
            if not chunk:
                return
            self._chunks.append(chunk)

    def output(self) -> str:
        return b"".join(self._chunks).decode(errors="replace")

    def wait_for(self, text: str, limit: float = 30.0) -> None:
        deadline = time.monotonic() + limit
        while text not in self.output():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(
                    f"{text!r} never showed (exit {self.proc.poll()}); the output ends:\n{self.output()[-2000:]!r}"
                )
            time.sleep(0.1)

    def send(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def hang_up(self) -> None:
        """Close the terminal's other end: the kernel hangs it up and sends SIGHUP."""
        os.close(self.master)
        self.master = -1

    def wait(self, limit: float) -> int:
        code = self.proc.wait(limit)
        self._reader.join(2)
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.master >= 0:
            os.close(self.master)
            self.master = -1


def terminal_restored(output: str) -> list[str]:
    """What a program left switched on at its end: the alternate screen, mouse reporting, a
    hidden cursor (each judged by the last sequence that set it). Empty: all restored."""
    left = []
    for what, on, off in (
        ("alternate screen", "\x1b[?1049h", "\x1b[?1049l"),
        ("mouse reporting", "\x1b[?1000h", "\x1b[?1000l"),
        ("hidden cursor", "\x1b[?25l", "\x1b[?25h"),
    ):
        if output.rfind(on) > output.rfind(off):
            left.append(what)
    return left
