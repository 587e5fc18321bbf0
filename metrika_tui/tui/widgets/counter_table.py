"""The live table of counters: only the rows on screen are ever drawn.

Textual's DataTable keeps a row object, styled cells and offsets for every row, so a big
table was slow to fill and to reconcile, and its idle ageing pass re-styled every row
(docs/performance.md, "the console with many counters"). This table keeps the sorted, filtered list of
`CounterStatus` and draws a row's cells only when its line is painted (a screen holds a
few dozen). So a reconcile is a filter, a sort and a repaint; "synced 5m ago" ages by
repainting the lines on screen; and the cursor belongs to a counter, not to a position:
when rows come and go above it, the selected counter stays where the user sees it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from metrika_tui.engine.status import CounterStatus
from metrika_tui.tui.counter_rows import COLUMN_KEYS, COLUMNS, DEFAULT_SORT, matches, row_cells, row_words
from metrika_tui.tui.theme_styles import ThemeStyles

#: blank cells either side of each cell's text
PADDING = 1
#: the table's full width: every column with its padding (wider than the screen scrolls)
TABLE_WIDTH = sum(column.width + 2 * PADDING for column in COLUMNS)
#: the header takes the first line of the widget and never scrolls away
HEADER_LINES = 1
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class ReconcileStats:
    """What one reconcile did: for tests and the benchmark."""

    added: int = 0
    removed: int = 0
    changed: int = 0  # rows shown before whose counter changed
    resorted: bool = False


def _column_at(x: int) -> str | None:
    """The key of the column drawn at table column `x`."""
    left = 0
    for column in COLUMNS:
        left += column.width + 2 * PADDING
        if x < left:
            return column.key
    return None


class _TableMessage(Message):
    """A message about the table, matched by `@on(..., "#counters")` through `control`."""

    def __init__(self, table: CounterTable) -> None:
        super().__init__()
        self.table = table

    @property
    def control(self) -> CounterTable:
        return self.table


class CounterTable(ScrollView, can_focus=True):
    """Counters in the user's order; `reconcile()` is the only way rows change."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,ctrl+home", "first_row", "First row", show=False),
        Binding("end,ctrl+end", "last_row", "Last row", show=False),
        Binding("left", "scroll_left", "Scroll left", show=False),
        Binding("right", "scroll_right", "Scroll right", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"counter-table--header", "counter-table--cursor"}
    DEFAULT_CSS = """
    CounterTable {
        height: 1fr;
        background: $surface;
        color: $foreground;
        &:focus { background-tint: $foreground 5%; }
        & > .counter-table--header { text-style: bold; background: $panel; color: $foreground; }
        & > .counter-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .counter-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """

    class RowHighlighted(_TableMessage):
        """Another counter is selected (by the keys, the mouse, or its row vanishing)."""

        def __init__(self, table: CounterTable, counter_id: int) -> None:
            super().__init__(table)
            self.counter_id = counter_id

    class HeaderSelected(_TableMessage):
        """A column's header was clicked: sort by it."""

        def __init__(self, table: CounterTable, column_key: str) -> None:
            super().__init__(table)
            self.column_key = column_key

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.styles_for_cells: ThemeStyles | None = None
        self.sort_column = DEFAULT_SORT
        self.sort_reverse = False
        self.cursor_row = 0
        self._rows: list[CounterStatus] = []  # what is shown, in the user's order
        self._index: dict[int, int] = {}  # counter id -> its position in _rows
        self._now = _EPOCH  # the moment relative times ("5m ago") are told from
        self._lines: LRUCache[tuple, Strip] = LRUCache(512)  # drawn rows, full width
        self.virtual_size = Size(TABLE_WIDTH, HEADER_LINES)

    # -- what others read ------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def selected_counter(self) -> CounterStatus | None:
        return self._rows[self.cursor_row] if self._rows else None

    @property
    def shown_ids(self) -> list[int]:
        """Counter ids in the order the user sees them."""
        return [counter.counter_id for counter in self._rows]

    def get_row_index(self, counter_id: int | str) -> int:
        return self._index[int(counter_id)]

    def words_of(self, counter_id: int) -> tuple[str, ...] | None:
        index = self._index.get(counter_id)
        return None if index is None else row_words(self._rows[index], self._now)

    def cell_text(self, counter_id: int, column_key: str) -> Text:
        """One cell as drawn: its words and its style."""
        assert self.styles_for_cells is not None
        counter = self._rows[self._index[counter_id]]
        cells = row_cells(row_words(counter, self._now), counter.state, self.styles_for_cells)
        return cells[COLUMN_KEYS.index(column_key)]

    # -- the ways rows change --------------------------------------------------------------
    def restyle(self, styles: ThemeStyles) -> None:
        """A new theme: every line is drawn again."""
        self.styles_for_cells = styles
        self._lines.clear()
        self.refresh()

    def age(self, now: dt.datetime) -> None:
        """Tell relative times from `now`: only the lines on screen are drawn again."""
        if now != self._now:
            self._now = now
            self.refresh()

    def reconcile(self, counters: Sequence[CounterStatus], now: dt.datetime, query: str = "") -> ReconcileStats:
        """Show these counters, filtered and sorted; the selected counter stays selected and in place."""
        assert self.styles_for_cells is not None, "restyle() first: cells need the theme"
        column = next(c for c in COLUMNS if c.key == self.sort_column)
        wanted = [c for c in counters if matches(c, query)] if query else list(counters)
        wanted.sort(key=column.sort_key, reverse=self.sort_reverse)

        old_rows, old_index = self._rows, self._index
        index = {c.counter_id: n for n, c in enumerate(wanted)}
        added = sum(1 for key in index if key not in old_index)
        removed = sum(1 for key in old_index if key not in index)
        changed = sum(
            1
            for c in wanted
            if (n := old_index.get(c.counter_id)) is not None and old_rows[n] is not c and old_rows[n] != c
        )  # kept by a partial read: the same object
        kept_before = [c.counter_id for c in old_rows if c.counter_id in index]
        kept_now = [c.counter_id for c in wanted if c.counter_id in old_index]
        resorted = kept_before != kept_now

        selected = self.selected_counter
        self._rows, self._index, self._now = wanted, index, now
        self.virtual_size = Size(TABLE_WIDTH, len(wanted) + HEADER_LINES)
        if selected is not None and selected.counter_id in index:
            moved_by = index[selected.counter_id] - self.cursor_row
            self.cursor_row += moved_by
            if moved_by:  # keep the selected row on the same screen line
                self.set_scroll(None, max(0, self.scroll_y + moved_by))
        else:
            self.cursor_row = min(self.cursor_row, max(0, len(wanted) - 1))
            if wanted:
                self.post_message(self.RowHighlighted(self, wanted[self.cursor_row].counter_id))
        self.refresh()
        return ReconcileStats(added=added, removed=removed, changed=changed, resorted=resorted)

    # -- the cursor --------------------------------------------------------------------------
    @property
    def page_rows(self) -> int:
        """How many rows fit under the header."""
        return max(1, self.scrollable_content_region.height - HEADER_LINES)

    def move_cursor(self, *, row: int, animate: bool = False, scroll: bool = True) -> None:
        """Select the row at `row` (clamped), and scroll it into view."""
        if not self._rows:
            return
        row = max(0, min(row, len(self._rows) - 1))
        if row != self.cursor_row:
            self.cursor_row = row
            self.refresh()
            self.post_message(self.RowHighlighted(self, self._rows[row].counter_id))
        if scroll:
            top = round(self.scroll_y)
            if row < top:
                self.scroll_to(y=row, animate=animate, force=True)
            elif row >= top + self.page_rows:
                self.scroll_to(y=row - self.page_rows + 1, animate=animate, force=True)

    def action_cursor_up(self) -> None:
        self.move_cursor(row=self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(row=self.cursor_row + 1)

    def action_page_up(self) -> None:
        self._page(-1)

    def action_page_down(self) -> None:
        self._page(+1)

    def _page(self, direction: int) -> None:
        """A page on: the view and the cursor move together, the cursor keeps its screen line."""
        page = self.page_rows * direction
        self.set_scroll(None, max(0, min(self.scroll_y + page, self.max_scroll_y)))
        self.move_cursor(row=self.cursor_row + page)

    def action_first_row(self) -> None:
        self.move_cursor(row=0)

    def action_last_row(self) -> None:
        self.move_cursor(row=len(self._rows) - 1)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y < HEADER_LINES:
            if (key := _column_at(offset.x + round(self.scroll_x))) is not None:
                self.post_message(self.HeaderSelected(self, key))
        else:
            self.move_cursor(row=round(self.scroll_y) + offset.y - HEADER_LINES)
        event.stop()

    # -- drawing -----------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y < HEADER_LINES:
            strip = self._header()
        elif (row := scroll_y + y - HEADER_LINES) < len(self._rows):
            strip = self._row(self._rows[row], selected=row == self.cursor_row)
        else:
            return Strip.blank(width, base)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _header(self) -> Strip:
        arrow = " ↓" if self.sort_reverse else " ↑"
        labels = [c.label[: c.width - len(arrow)] + arrow if c.key == self.sort_column else c.label for c in COLUMNS]
        style = self.get_component_rich_style("counter-table--header")
        return self._strip([Text(label) for label in labels], style)

    def _row(self, counter: CounterStatus, *, selected: bool) -> Strip:
        assert self.styles_for_cells is not None
        words = row_words(counter, self._now)
        key = (words, counter.state, selected, selected and self.has_focus, self.rich_style)
        strip = self._lines.get(key)
        if strip is None:
            cells = row_cells(words, counter.state, self.styles_for_cells)
            style = self.get_component_rich_style("counter-table--cursor") if selected else self.rich_style
            strip = self._lines[key] = self._strip(cells, style)
        return strip

    def _strip(self, cells: list[Text], style: Style) -> Strip:
        """Cells padded to their columns, over `style` (each cell's own style drawn on top)."""
        pad = " " * PADDING
        segments: list[Segment] = []
        for column, cell in zip(COLUMNS, cells):
            cell.truncate(column.width, overflow="ellipsis", pad=True)
            segments.append(Segment(pad))
            segments.extend(cell.render(self.app.console))
            segments.append(Segment(pad))
        return Strip(segments, TABLE_WIDTH).apply_style(style)

    def on_focus(self) -> None:
        self.refresh()  # the cursor's colour follows the focus

    def on_blur(self) -> None:
        self.refresh()
