"""What one counter looks like as a table row: columns, cell text, sort keys and the filter.

Pure functions of a `CounterStatus` and the time, so the table widget only reconciles and
the tests can check the words without a terminal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.style import Style
from rich.text import Text

from metrika_tui.engine.status import CounterState, CounterStatus
from metrika_tui.text import visible
from metrika_tui.timefmt import ago, until
from metrika_tui.tui.theme_styles import ThemeStyles, state_text

_FAR_PAST = dt.datetime.min.replace(tzinfo=dt.UTC)
_FAR_FUTURE = dt.datetime.max.replace(tzinfo=dt.UTC)
_STATE_ORDER = {state: n for n, state in enumerate(CounterState)}
ERROR_WIDTH = 40


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int
    sort_key: Callable[[CounterStatus], Any]


#: most important first, so 80 columns show id, state, name, account and times
COLUMNS: tuple[Column, ...] = (
    Column("id", "Counter", 9, lambda c: c.counter_id),
    Column("state", "State", 11, lambda c: (_STATE_ORDER[c.state], c.counter_id)),
    Column("name", "Name", 16, lambda c: (c.name.casefold(), c.counter_id)),
    Column("account", "Account", 10, lambda c: (c.account_login.casefold(), c.account_id, c.counter_id)),
    Column("last", "Last sync", 10, lambda c: (c.last_fetched_at or _FAR_PAST, c.counter_id)),
    Column("next", "Next due", 9, lambda c: (c.next_due_at or _FAR_FUTURE, c.counter_id)),
    Column("attempts", "Att", 3, lambda c: (c.attempts, c.counter_id)),
    Column("site", "Site", 22, lambda c: (c.site.casefold(), c.counter_id)),
    Column("error", "Last error", ERROR_WIDTH, lambda c: (c.last_error or "", c.counter_id)),
)
COLUMN_KEYS = tuple(column.key for column in COLUMNS)
#: the snapshot's own order: by account, then counter
DEFAULT_SORT = "account"


def short_error(error: str | None, width: int = ERROR_WIDTH) -> str:
    """The error's first line, its controls made visible, cut to `width`."""
    if not error:
        return ""
    first_line = visible(error.strip().splitlines()[0]) if error.strip() else ""
    return first_line if len(first_line) <= width else first_line[: width - 1] + "…"


def account_label(counter: CounterStatus) -> str:
    return visible(counter.account_login or counter.account_user_id or f"#{counter.account_id}")


def row_words(counter: CounterStatus, now: dt.datetime) -> tuple[str, ...]:
    """The row as plain words, in column order: what a user reads, and what changes compare.
    Outside text (name, account, site, error) is made visible: one counter, one clean line."""
    return (
        str(counter.counter_id),
        state_text(counter.state) + (" ≈" if counter.sample_share is not None else ""),  # ≈: sampled figures
        visible(counter.name),
        account_label(counter),
        ago(counter.last_fetched_at, now),
        until(counter.next_due_at, now) if counter.active and not counter.account_revoked else "—",
        str(counter.attempts) if counter.attempts else "",
        visible(counter.site),
        short_error(counter.last_error or counter.held_by),
    )


#: disabled counters (and those of revoked accounts) stay in the table, greyed
GREYED_STATES = frozenset({CounterState.DISABLED, CounterState.REVOKED})


def row_cells(words: tuple[str, ...], state: CounterState, styles: ThemeStyles) -> list[Text]:
    """Styled cells: the state in its theme colour, a greyed row muted throughout."""
    greyed = state in GREYED_STATES
    cells = []
    for key, word in zip(COLUMN_KEYS, words):
        style: Style | str
        if key == "state":
            style = styles.states[state]
        elif greyed:
            style = styles.greyed
        elif key == "error":
            style = styles.error
        else:
            style = ""
        cells.append(Text(word, style=style, no_wrap=True, overflow="ellipsis", end=""))
    return cells


def matches(counter: CounterStatus, query: str) -> bool:
    """Every word of the query appears in the counter's id, name, site, account, state or error."""
    words = query.casefold().split()
    if not words:
        return True
    haystack = " ".join(
        (
            str(counter.counter_id),
            counter.name,
            counter.site,
            counter.account_login,
            counter.account_user_id,
            counter.state.label,
            counter.last_error or "",
        )
    ).casefold()
    return all(word in haystack for word in words)


def row_as_text(counter: CounterStatus, now: dt.datetime) -> str:
    """The selected row for the clipboard: tab-separated, header names first."""
    header = "\t".join(column.label for column in COLUMNS)
    words = list(row_words(counter, now))
    words[-1] = visible(counter.last_error or "")  # pasted into a shell later: no controls
    return header + "\n" + "\t".join(words)
