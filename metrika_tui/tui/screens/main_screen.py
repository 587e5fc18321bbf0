"""The main screen: header, summary, the live counter table, details, log, footer.

It owns every widget's state. Engine news arrives only as the bridge's messages; every
key runs a `ConsoleOperations` call in a worker and shows the answer as a notification.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable, Mapping
from zoneinfo import ZoneInfo

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input

from metrika_tui.engine.contract import ConsoleRuntime
from metrika_tui.engine.service import EngineSnapshot
from metrika_tui.engine.status import CounterStatus
from metrika_tui.events import Event, Kind, Level
from metrika_tui.tui.bridge import Ageing, BridgeOptions, EngineBridge, EngineEvents, SnapshotArrived, SnapshotFailed
from metrika_tui.tui.commands import screen_bindings
from metrika_tui.tui.counter_rows import COLUMN_KEYS, row_as_text
from metrika_tui.tui.operations import ConsoleOperations, Refused
from metrika_tui.tui.screens.add_account import AddAccountScreen
from metrika_tui.tui.screens.confirm import ConfirmScreen
from metrika_tui.tui.screens.failed_jobs import FailedJobsScreen
from metrika_tui.tui.screens.help import HelpScreen
from metrika_tui.tui.theme_styles import ThemeStyles
from metrika_tui.tui.widgets.counter_detail import CounterDetailPane
from metrika_tui.tui.widgets.counter_table import CounterTable
from metrika_tui.tui.widgets.log_pane import LogPane
from metrika_tui.tui.widgets.status_lines import StatusLine, accounts_text, header_text, summary_text
from metrika_tui.tui.widgets.welcome import Welcome

#: below this width the detail pane is hidden until asked for (and then takes the table's place)
WIDE = 120
#: wait this long after the cursor stops before loading the selected counter's details
DETAIL_DELAY = 0.15
#: events that change what the detail pane shows
_DETAIL_KINDS = {Kind.DONE, Kind.FAILED, Kind.STARTED, Kind.QUEUED, Kind.REVOKED}


class MainScreen(Screen[None]):
    CSS_PATH = "main_screen.tcss"
    BINDINGS = [*screen_bindings(), Binding("tab", "app.focus_next", "Next pane", show=False, id="focus-next")]

    def __init__(
        self,
        runtime: ConsoleRuntime,
        operations: ConsoleOperations,
        keymap: Mapping[str, str],
        *,
        bridge_options: BridgeOptions | None = None,
    ) -> None:
        super().__init__(id="main")
        self.runtime = runtime
        self.operations = operations
        self.keymap = keymap
        self.snapshot: EngineSnapshot | None = None
        self._snapshot_arrived = 0.0  # monotonic
        self.query_text = ""
        self.bridge = EngineBridge(runtime, self, **(bridge_options or {}))
        self.bridge.subscribe()
        self._detail_timer: Timer | None = None

    @property
    def tz(self) -> ZoneInfo:
        return self.runtime.settings.tz

    # -- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusLine(
            header_text(
                db=self.runtime.describe_db, scheduler_state="starting", next_sync=None, snapshot=None, tz=self.tz
            ),
            id="header",
        )
        yield StatusLine("", id="summary")
        yield StatusLine("", id="accounts")
        yield Input(placeholder="filter: id, name, site, account, state or error words (esc: back)", id="filter")
        yield Welcome(id="welcome")
        with Horizontal(id="body"):
            yield CounterTable(id="counters")
            yield CounterDetailPane(tz=self.tz, id="detail")
        yield LogPane(tz=self.tz, id="log")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._apply_theme()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._apply_theme())
        self.bridge.start()
        self.query_one(CounterTable).focus()

    def on_unmount(self) -> None:
        self.bridge.close()

    def on_screen_resume(self) -> None:
        """Back from a dialog: the keys go to the table unless the user was filtering."""
        if not self.has_class("-filtering"):
            self.query_one(CounterTable).focus()

    def on_resize(self) -> None:
        self.set_class(self.size.width < WIDE, "-narrow")

    def _apply_theme(self) -> None:
        styles = ThemeStyles(self.app.theme_variables)
        self.query_one(CounterTable).restyle(styles)
        self.query_one(LogPane).level_styles = {Level.WARNING: styles.warning, Level.ERROR: styles.error}
        self._show_snapshot()

    # -- news from the engine ----------------------------------------------------------------
    def on_engine_events(self, message: EngineEvents) -> None:
        log = self.query_one(LogPane)
        if message.dropped:
            log.add_events(
                [
                    Event(
                        Kind.WARNING,
                        f"{message.dropped} events skipped while the console was busy"
                        " (all of them are in the log file)",
                        level=Level.WARNING,
                    )
                ]
            )
        log.add_events(message.events)
        detail = self.query_one(CounterDetailPane)
        if any(e.kind in _DETAIL_KINDS and e.counter_id == detail.counter_id for e in message.events):
            self._schedule_detail()

    def on_snapshot_arrived(self, message: SnapshotArrived) -> None:
        self.snapshot = message.snapshot
        self._snapshot_arrived = time.monotonic()
        self._show_snapshot()

    def on_ageing(self, _message: Ageing) -> None:
        """Relative times move on: the header and the rows on screen, nothing re-read."""
        if self.snapshot is not None:
            self._show_header()
            self.query_one(CounterTable).age(self.now())

    def now(self) -> dt.datetime:
        """The snapshot's moment plus the time since it arrived (the engine's clock, moved on);
        before the first snapshot, this machine's clock."""
        if self.snapshot is None:
            return dt.datetime.now(dt.UTC)
        return self.snapshot.taken_at + dt.timedelta(seconds=time.monotonic() - self._snapshot_arrived)

    def _show_header(self) -> None:
        self.query_one("#header", StatusLine).show(
            header_text(
                db=self.runtime.describe_db,
                scheduler_state=self.runtime.scheduler_state,
                next_sync=self.runtime.next_scheduled_sync_at,
                snapshot=self.snapshot,
                tz=self.tz,
                now=self.now(),
            )
        )

    def on_snapshot_failed(self, message: SnapshotFailed) -> None:
        self.query_one("#header", StatusLine).show(f"cannot read the database: {message.error}", alert=True)

    def _show_snapshot(self) -> None:
        snapshot = self.snapshot
        if snapshot is None:
            return
        self._show_header()
        self.query_one("#summary", StatusLine).show(summary_text(snapshot.summary), alert=bool(snapshot.summary.failed))
        was_empty = self.has_class("-empty")
        self.set_class(not snapshot.accounts, "-empty")
        table = self.query_one(CounterTable)
        table.reconcile(snapshot.counters, self.now(), self.query_text)
        if was_empty and snapshot.accounts and not self.has_class("-filtering"):
            table.focus()  # the table was hidden behind the welcome: give it the keys now
        self.query_one("#accounts", StatusLine).show(f"{self._view_text()} │ {accounts_text(snapshot)}")

    def _view_text(self) -> str:
        """How many rows the user sees, sorted how, filtered by what."""
        table = self.query_one(CounterTable)
        total = len(self.snapshot.counters) if self.snapshot else 0
        shown = f"{table.row_count} of {total}" if self.query_text else str(total)
        arrow = "↓" if table.sort_reverse else "↑"
        return f"{shown} counters · sort {table.sort_column} {arrow}" + (
            f" · filter “{self.query_text}”" if self.query_text else ""
        )

    # -- details of the selected counter ----------------------------------------------------
    @on(CounterTable.RowHighlighted, "#counters")
    def _row_highlighted(self) -> None:
        self._schedule_detail()

    def _schedule_detail(self) -> None:
        if self._detail_timer is not None:
            self._detail_timer.stop()
        self._detail_timer = self.set_timer(DETAIL_DELAY, self._load_detail)

    @work(exclusive=True, group="detail")
    async def _load_detail(self) -> None:
        counter = self.query_one(CounterTable).selected_counter
        if counter is None or self.snapshot is None:
            return
        try:
            detail = await self.operations.counter_detail(counter.counter_id)
        except Exception as exc:  # a vanished counter, a busy database: say so, keep going
            self.notify(f"details of {counter.counter_id}: {exc}", severity="warning")
            return
        self.query_one(CounterDetailPane).show(detail, self.snapshot.taken_at.astimezone(self.tz).date())

    # -- actions -----------------------------------------------------------------------------
    @work(group="actions")
    async def _perform(self, call: Callable[[], Awaitable[str] | str]) -> None:
        """Run one operation; show its answer, or why it was refused; then re-read the engine."""
        try:
            result = call()
            message = await result if isinstance(result, Awaitable) else result
        except Refused as exc:
            self.notify(str(exc), severity="warning", title="Refused")
            return
        except Exception as exc:
            self.notify(str(exc), severity="error", title="Failed")
            return
        self.notify(message)
        self.bridge.mark_dirty()
        await self.bridge.flush()

    def _selected_or_say(self) -> CounterStatus | None:
        counter = self.query_one(CounterTable).selected_counter
        if counter is None:
            self.notify("no counter selected", severity="warning")
        return counter

    def action_force_sync(self) -> None:
        if (counter := self._selected_or_say()) is not None:
            self._perform(lambda: self.operations.force_sync(counter.counter_id))

    def action_toggle_active(self) -> None:
        if (counter := self._selected_or_say()) is not None:
            self._perform(lambda: self.operations.set_active(counter.counter_id, not counter.active))

    def action_sync_due(self) -> None:
        self._perform(self.operations.sync_due)

    def action_force_sync_all(self) -> None:
        if self.operations.read_only:  # refuse before asking
            self._perform(self.operations.force_sync_all)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._perform(self.operations.force_sync_all)

        total = len(self.snapshot.counters) if self.snapshot else 0
        self.app.push_screen(ConfirmScreen(f"Force-sync all {total} counters, due or not?"), answered)

    def action_add_account(self) -> None:
        if self.operations.read_only:  # refuse before asking for a secret
            self._perform(lambda: self.operations.add_account("", ""))
            return

        def entered(answer: tuple[str, ...] | None) -> None:
            if answer and answer[0] == "token":
                _, token, label = answer
                self._perform(lambda: self.operations.add_account(token, label))
            elif answer and answer[0] == "added":  # the login stored it already
                self._perform(lambda: answer[1])

        self.app.push_screen(AddAccountScreen(self.operations), entered)

    def action_retry_failed(self) -> None:
        self._perform(self.operations.retry_failed)

    def action_pause_scheduler(self) -> None:
        def toggle() -> str:
            message = self.operations.toggle_scheduler()
            self._show_snapshot()
            return message

        self._perform(toggle)

    def action_failed_view(self) -> None:
        self.app.push_screen(FailedJobsScreen(self.operations, tz=self.tz), lambda _: self.bridge.mark_dirty())

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.keymap, read_only=self.operations.read_only))

    def action_filter(self) -> None:
        self.add_class("-filtering")
        self.query_one("#filter", Input).focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.query_text = event.value.strip()
        self._show_snapshot()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one(CounterTable).focus()

    def key_escape(self) -> None:
        """Esc in the filter: back to the table; an empty filter also hides."""
        filter_input = self.query_one("#filter", Input)
        if filter_input.has_focus:
            if not filter_input.value:
                self.remove_class("-filtering")
            self.query_one(CounterTable).focus()

    def action_sort_next(self) -> None:
        table = self.query_one(CounterTable)
        table.sort_column = COLUMN_KEYS[(COLUMN_KEYS.index(table.sort_column) + 1) % len(COLUMN_KEYS)]
        self._show_snapshot()

    def action_sort_reverse(self) -> None:
        table = self.query_one(CounterTable)
        table.sort_reverse = not table.sort_reverse
        self._show_snapshot()

    @on(CounterTable.HeaderSelected, "#counters")
    def _header_clicked(self, event: CounterTable.HeaderSelected) -> None:
        table = self.query_one(CounterTable)
        key = event.column_key
        table.sort_reverse = not table.sort_reverse if table.sort_column == key else False
        table.sort_column = key
        self._show_snapshot()

    def action_toggle_log(self) -> None:
        self.toggle_class("-hide-log")

    def action_freeze_log(self) -> None:
        following = self.query_one(LogPane).toggle_follow()
        self.notify("log follows new lines" if following else "log frozen (the engine goes on)")

    def action_log_level(self) -> None:
        level = self.query_one(LogPane).next_level()
        self.notify(f"log shows {level.value} and above")

    def action_toggle_detail(self) -> None:
        self.toggle_class("-detail-toggled")

    def action_copy_row(self) -> None:
        if (counter := self._selected_or_say()) is not None and self.snapshot is not None:
            self.app.copy_to_clipboard(row_as_text(counter, self.now()))
            self.notify(f"counter {counter.counter_id} copied to the clipboard")
