"""The log pane: every engine event as a line; bounded, with follow/pause and a level filter.

Memory is bounded twice over: the RichLog keeps at most `MAX_LINES` lines, and the pane
keeps as many recent events to re-render when the level filter changes. The full log
stays on disk (the log file and the store's event log).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from rich.style import Style
from rich.text import Text
from textual.widgets import RichLog

from metrika_tui.events import TIME_STAMP, Event, Level, event_text
from metrika_tui.tui.css import tcss_next_to

MAX_LINES = 2_000
LEVELS: tuple[Level, ...] = (Level.DEBUG, Level.INFO, Level.WARNING, Level.ERROR)


class LogPane(RichLog):
    """Shows events at or above `min_level`; follows the newest line unless frozen."""

    DEFAULT_CSS = tcss_next_to(__file__)
    BORDER_TITLE = "Log"

    def __init__(self, *, tz: ZoneInfo, id: str | None = None) -> None:
        super().__init__(id=id, max_lines=MAX_LINES, wrap=False, markup=False, highlight=False)
        self.tz = tz
        self.min_level = Level.INFO
        self.level_styles: dict[Level, Style] = {}
        self._recent: deque[Event] = deque(maxlen=MAX_LINES)

    @property
    def following(self) -> bool:
        return self.auto_scroll

    def add_events(self, events: Iterable[Event]) -> None:
        for event in events:
            self._recent.append(event)
            if self._visible(event):
                self._write(event)

    def toggle_follow(self) -> bool:
        self.auto_scroll = not self.auto_scroll
        if self.auto_scroll:
            self.scroll_end(animate=False)
        self._retitle()
        return self.auto_scroll

    def next_level(self) -> Level:
        """Cycle the filter debug → info → warning → error → debug; re-render what is kept."""
        self.min_level = LEVELS[(LEVELS.index(self.min_level) + 1) % len(LEVELS)]
        self.clear()
        for event in self._recent:
            if self._visible(event):
                self._write(event)
        self._retitle()
        return self.min_level

    def _visible(self, event: Event) -> bool:
        return LEVELS.index(event.level) >= LEVELS.index(self.min_level)

    def _write(self, event: Event) -> None:
        line = event_text(event, tz=self.tz, stamp=TIME_STAMP)
        self.write(Text(line, style=self.level_styles.get(event.level, ""), no_wrap=True, end=""))

    def _retitle(self) -> None:
        follow = "following" if self.auto_scroll else "frozen"
        self.border_title = f"Log · {self.min_level.value}+ · {follow}"

    def on_mount(self) -> None:
        self._retitle()
