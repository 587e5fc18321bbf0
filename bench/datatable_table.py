"""The baseline for bench/console_reconcile.py: the console's table before it drew only the
rows on screen (release 1d1a784), a Textual DataTable reconciled by row key.

Kept here, out of the package, so each benchmark run measures both in the same run. The
original docstring follows.

The live table of counters, reconciled by row key: changed cells only, never cleared.

A user may be scrolled deep into ten thousand rows with the cursor on one of them while
a thousand states change; rebuilding the table would lose both and cost several times
more. So each refresh compares the words of every row with what is shown and touches
only what differs, adds and removes rows by key, re-sorts only when the order changed,
and puts the cursor back on the same counter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from textual.widgets import DataTable

from metrika_tui.engine.status import CounterState, CounterStatus
from metrika_tui.tui.counter_rows import (
    COLUMN_KEYS,
    COLUMNS,
    DEFAULT_SORT,
    GREYED_STATES,
    matches,
    row_cells,
    row_words,
)
from metrika_tui.tui.theme_styles import ThemeStyles


@dataclass(frozen=True, slots=True)
class ReconcileStats:
    """What one reconcile did: for tests and the benchmark."""

    added: int = 0
    removed: int = 0
    cells_updated: int = 0
    resorted: bool = False


class DataTableCounters(DataTable):
    """Counters as rows keyed by counter id; `reconcile()` is the only way rows change."""

    DEFAULT_CSS = """
    DataTableCounters { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.styles_for_cells: ThemeStyles | None = None
        self.sort_column = DEFAULT_SORT
        self.sort_reverse = False
        self._shown: dict[int, tuple[tuple[str, ...], CounterState]] = {}
        self._order: list[int] = []
        self._statuses: dict[int, CounterStatus] = {}

    def on_mount(self) -> None:
        for column in COLUMNS:
            self.add_column(column.label, key=column.key, width=column.width)

    # -- what others read ------------------------------------------------------------------
    @property
    def selected_counter(self) -> CounterStatus | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self._statuses.get(int(key)) if key is not None else None

    @property
    def shown_ids(self) -> list[int]:
        """Counter ids in the order the user sees them."""
        return list(self._order)

    def words_of(self, counter_id: int) -> tuple[str, ...] | None:
        shown = self._shown.get(counter_id)
        return shown[0] if shown else None

    def age(self, now: dt.datetime) -> None:
        """This table aged by a full re-read every 10 s (the bridge's resync), not a repaint."""

    # -- the one way rows change -----------------------------------------------------------
    def restyle(self, styles: ThemeStyles) -> None:
        """A new theme: every cell is repainted at the next reconcile."""
        self.styles_for_cells = styles
        self._shown = {key: ((), state) for key, (_, state) in self._shown.items()}

    def reconcile(self, counters: Sequence[CounterStatus], now: dt.datetime, query: str = "") -> ReconcileStats:
        assert self.styles_for_cells is not None, "restyle() first: cells need the theme"
        styles = self.styles_for_cells
        column = next(c for c in COLUMNS if c.key == self.sort_column)
        visible = sorted((c for c in counters if matches(c, query)), key=column.sort_key, reverse=self.sort_reverse)
        wanted = {c.counter_id for c in visible}
        cursor_id = self.selected_counter.counter_id if self.selected_counter else None

        removed = [key for key in self._shown if key not in wanted]
        for key in removed:
            self.remove_row(str(key))
            del self._shown[key]
        order = [key for key in self._order if key in wanted]

        added = updated = 0
        for counter in visible:
            key = counter.counter_id
            words = row_words(counter, now)
            shown = self._shown.get(key)
            if shown is None:
                self.add_row(*row_cells(words, counter.state, styles), key=str(key))
                order.append(key)
                added += 1
            elif shown != (words, counter.state):
                updated += self._update_changed(key, shown, words, counter.state, styles)
            self._shown[key] = (words, counter.state)
        self._statuses = {c.counter_id: c for c in visible}

        desired = [c.counter_id for c in visible]
        resorted = order != desired
        if resorted:
            rank = {str(key): n for n, key in enumerate(desired)}
            self.sort("id", key=lambda cell: rank[cell.plain])
        self._order = desired
        if cursor_id is not None and cursor_id in wanted:
            index = self.get_row_index(str(cursor_id))
            if index != self.cursor_row:
                self.move_cursor(row=index, animate=False, scroll=False)
        return ReconcileStats(added=added, removed=len(removed), cells_updated=updated, resorted=resorted)

    def _update_changed(self, key: int, shown, words, state: CounterState, styles: ThemeStyles) -> int:
        old_words, old_state = shown
        cells = row_cells(words, state, styles)
        restyle_all = not old_words or (old_state in GREYED_STATES) != (state in GREYED_STATES)
        count = 0
        for index, column_key in enumerate(COLUMN_KEYS):
            if restyle_all or old_words[index] != words[index] or (column_key == "state" and old_state != state):
                self.update_cell(str(key), column_key, cells[index])
                count += 1
        return count
