"""The failed jobs: each failure with its error, attempts and time; retry one or all."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from metrika_tui.engine.contract import JobRecord
from metrika_tui.text import visible
from metrika_tui.tui.operations import ConsoleOperations, Refused


class FailedJobsScreen(Screen[None]):
    CSS_PATH = "failed_jobs.tcss"
    BINDINGS = [
        Binding("r", "retry_one", "Retry selected", id="failed-retry-one"),
        Binding("a", "retry_all", "Retry all", id="failed-retry-all"),
        Binding("g", "reload", "Reload", id="failed-reload"),
        Binding("escape,F", "app.pop_screen", "Back", id="failed-back"),
    ]

    def __init__(self, operations: ConsoleOperations, *, tz: ZoneInfo) -> None:
        super().__init__()
        self.operations = operations
        self.tz = tz

    def compose(self) -> ComposeResult:
        yield Static("Failed jobs", id="failed-title")
        yield DataTable(id="failed-table", cursor_type="row")
        yield Static("", id="failed-empty")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#failed-table", DataTable)
        table.add_column("Counter", key="id", width=9)
        table.add_column("Name", key="name", width=18)
        table.add_column("Attempts", key="attempts", width=8)
        table.add_column("Failed at", key="at", width=16)
        table.add_column("Error", key="error")
        table.focus()
        self.action_reload()

    @work(exclusive=True, group="failed-load")
    async def action_reload(self) -> None:
        try:
            jobs = await self.operations.failed_jobs()
        except Refused as exc:
            self.notify(str(exc), severity="warning")
            return
        self.show_jobs(jobs)

    def show_jobs(self, jobs: list[JobRecord]) -> None:
        table = self.query_one("#failed-table", DataTable)
        keep = table.cursor_row
        table.clear()  # a short list re-read on demand; the cursor row is restored below
        for job in jobs:
            # the name and the error are outside text: Text (never markup), controls made visible
            table.add_row(
                str(job.counter_id),
                Text(visible(job.counter_name), no_wrap=True, overflow="ellipsis"),
                str(job.attempts),
                job.finished_at.astimezone(self.tz).strftime("%Y-%m-%d %H:%M") if job.finished_at else "",
                Text(visible(job.last_error or ""), no_wrap=True, overflow="ellipsis"),
                key=str(job.counter_id),
            )
        if jobs:
            table.move_cursor(row=min(keep, len(jobs) - 1), animate=False)
        self.query_one("#failed-title", Static).update(
            f"Failed jobs: {len(jobs)}  ·  r retry selected · a retry all · esc back"
        )
        self.query_one("#failed-empty", Static).update("" if jobs else "No failed jobs. Nothing to retry.")

    def _selected(self) -> int | None:
        table = self.query_one("#failed-table", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return None if key is None else int(key)

    def action_retry_one(self) -> None:
        counter_id = self._selected()
        if counter_id is None:
            self.notify("no failed job selected", severity="warning")
            return
        self._retry(counter_id)

    def action_retry_all(self) -> None:
        self._retry(None)

    @work(group="failed-retry")
    async def _retry(self, counter_id: int | None) -> None:
        try:
            message = await self.operations.retry_failed(counter_id)
        except Refused as exc:
            self.notify(str(exc), severity="warning", title="Refused")
            return
        self.notify(message)
        self.action_reload()
