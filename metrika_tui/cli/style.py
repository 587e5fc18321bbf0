"""Terminal styling for the commands: colour and emoji on a terminal, plain text otherwise.

Plain when stdout is not a terminal (cron, pipes, log files) or NO_COLOR is set, so the
output of `sync` and `sync-status` greps cleanly.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from metrika_tui.engine.status import CounterState

_ANSI = {"green": "32", "yellow": "33", "red": "31", "blue": "34", "dim": "2", "bold": "1", "cyan": "36"}

_STATE_LOOK: dict[CounterState, tuple[str, str, str]] = {
    # state: (emoji, plain marker, colour)
    CounterState.OK: ("✅", "[ok]", "green"),
    CounterState.PENDING: ("⏳", "[..]", "yellow"),
    CounterState.QUEUED: ("📥", "[>>]", "cyan"),
    CounterState.SYNCING: ("🔄", "[~~]", "blue"),
    CounterState.OVERDUE: ("🔴", "[!!]", "red"),
    CounterState.FAILED: ("❌", "[XX]", "red"),
    CounterState.DISABLED: ("⏸️ ", "[--]", "dim"),
    CounterState.REVOKED: ("⛔", "[RV]", "red"),
}


@dataclass(frozen=True)
class Style:
    rich: bool

    @classmethod
    def detect(cls, stream=None) -> Style:
        stream = stream or sys.stdout
        return cls(rich=stream.isatty() and "NO_COLOR" not in os.environ)

    def paint(self, text: str, colour: str) -> str:
        return f"\x1b[{_ANSI[colour]}m{text}\x1b[0m" if self.rich else text

    def mark(self, emoji: str, plain: str) -> str:
        return emoji if self.rich else plain

    def state(self, state: CounterState) -> str:
        emoji, plain, colour = _STATE_LOOK[state]
        return self.mark(emoji, plain) + " " + self.paint(state.label, colour)

    def rule(self, width: int = 51) -> str:
        return ("═" if self.rich else "=") * width
