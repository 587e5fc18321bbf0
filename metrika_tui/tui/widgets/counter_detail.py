"""The detail pane for the selected counter: attempts and errors, 90 days of visits, months.

It is handed a `CounterDetail` (loaded by the screen in a worker) and only shows it.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Label, Sparkline, Static

from metrika_tui.engine.contract import JobRecord
from metrika_tui.engine.service import CounterDetail
from metrika_tui.models import DailyStat
from metrika_tui.text import visible
from metrika_tui.timefmt import span
from metrika_tui.tui.counter_rows import short_error
from metrika_tui.tui.css import tcss_next_to
from metrika_tui.tui.theme_styles import state_text

MAX_ATTEMPTS_SHOWN = 20


def visits_series(daily: list[DailyStat], today: dt.date, days: int = 90) -> list[float]:
    """Visits per day for the last `days` days, a gap-free series (missing days are 0)."""
    by_day = {row.date: row.visits for row in daily}
    start = today - dt.timedelta(days=days - 1)
    return [float(by_day.get(start + dt.timedelta(days=n), 0)) for n in range(days)]


def attempt_row(attempt: JobRecord, tz: ZoneInfo) -> tuple[str, str, str, Text]:
    """Started, took, rows, outcome; the outcome (the API's words) as Text: never markup.
    `attempt` is a job that started (`Engine.counter_detail` lists only those)."""
    began = attempt.started_at or attempt.created_at
    started = began.astimezone(tz).strftime("%m-%d %H:%M")
    took = span(attempt.finished_at - began) if attempt.finished_at else "…"
    if attempt.status == "done":
        outcome = "✓ ok"
    else:
        outcome = "✗ " + short_error(attempt.last_error, 60) if attempt.finished_at else "⟳"
    return started, took, str(attempt.rows if attempt.rows is not None else ""), Text(outcome, no_wrap=True)


class CounterDetailPane(VerticalScroll):
    """Empty until a counter is selected; then its history and figures."""

    DEFAULT_CSS = tcss_next_to(__file__)
    BORDER_TITLE = "Details"

    def __init__(self, *, tz: ZoneInfo, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tz = tz
        self.counter_id: int | None = None

    def compose(self) -> ComposeResult:
        yield Static("Select a counter to see its history.", id="detail-title")
        yield Label("Visits, last 90 days", classes="detail-heading")
        yield Sparkline([], id="detail-visits")
        yield Static("", id="detail-visits-range")
        yield Label("Months", classes="detail-heading")
        yield DataTable(id="detail-months", cursor_type="none", show_cursor=False)
        yield Label("Attempts", classes="detail-heading")
        yield DataTable(id="detail-attempts", cursor_type="none", show_cursor=False)

    def on_mount(self) -> None:
        self.query_one("#detail-months", DataTable).add_columns("Month", "Visits", "Users", "Views", "Bounce")
        self.query_one("#detail-attempts", DataTable).add_columns("Started", "Took", "Rows", "Outcome")

    def show(self, detail: CounterDetail, today: dt.date) -> None:
        status = detail.status
        self.counter_id = status.counter_id
        self.border_title = f"Details · {status.counter_id}"
        account = visible(status.account_login or status.account_user_id)
        title = Text.assemble(
            (visible(status.name), "bold"),
            f"  {visible(status.site)}\n",
            f"{state_text(status.state)} · account {account}",
        )
        if status.sample_share is not None:
            title.append(f"\n≈ figures sampled by the API: {status.sample_share:.0%} of visits")
        if status.last_error:
            title.append(f"\nlast error: {visible(status.last_error)}")
        self.query_one("#detail-title", Static).update(title)
        series = visits_series(list(detail.daily), today)
        self.query_one("#detail-visits", Sparkline).data = series
        self.query_one("#detail-visits-range", Static).update(
            f"max {int(max(series, default=0))}/day · total {int(sum(series))}" if any(series) else "no data yet"
        )
        months = self.query_one("#detail-months", DataTable)
        months.clear()  # a small, unfocused table of a different counter: nothing to keep
        for m in detail.monthly:
            months.add_row(f"{m.month:%Y-%m}", str(m.visits), str(m.users), str(m.pageviews), f"{m.bounce_rate:.1f}%")
        attempts = self.query_one("#detail-attempts", DataTable)
        attempts.clear()
        for attempt in list(detail.attempts)[:MAX_ATTEMPTS_SHOWN]:
            attempts.add_row(*attempt_row(attempt, self.tz))
