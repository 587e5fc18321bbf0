"""Add an account from the console: log in with a code (the device flow), or paste a token.

The code tab shows the code large, the URL, a countdown, and copies the URL by OSC 52 (`c`:
works over SSH); Esc cancels the login (nothing is stored). The token is typed into a
password field, never shown. The screen only shows: the login runs through
`ConsoleOperations` in a worker.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Button, Input, Static, TabbedContent, TabPane

from metrika_tui.bigtext import big_text
from metrika_tui.engine.login import DeviceLogin
from metrika_tui.text import visible
from metrika_tui.timefmt import duration
from metrika_tui.tui.operations import ConsoleOperations, Refused

#: what the screen dismisses with: ("token", token, label) to add, ("added", message) when
#: the login stored the account, or None when cancelled
Answer = tuple[str, ...] | None


class AddAccountScreen(ModalScreen[Answer]):
    CSS_PATH = "add_account.tcss"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="add-account-cancel"),
        Binding("c", "copy_url", "Copy URL", id="add-account-copy-url"),
    ]

    def __init__(self, operations: ConsoleOperations) -> None:
        super().__init__()
        self.operations = operations
        self._login: DeviceLogin | None = None
        self._countdown: Timer | None = None
        self._started = False

    def compose(self) -> ComposeResult:
        can_log_in = self.operations.can_log_in
        with Vertical(id="add-box"):
            yield Static(Text("Add a Yandex Metrika account", style="bold"), id="add-title")
            with TabbedContent(initial="login-pane" if can_log_in else "paste-pane", id="add-tabs"):
                with TabPane("Log in with a code", id="login-pane"):
                    yield Static(id="login-steps")
                    yield Static(id="login-code")
                    yield Static(id="login-status")
                with TabPane("Paste a token", id="paste-pane"):
                    yield Static(
                        "The token is checked against the API, stored in the database (0600),\n"
                        "and shown masked everywhere.",
                        id="add-intro",
                        markup=False,
                    )
                    yield Input(placeholder="OAuth token (input hidden)", password=True, id="add-token")
                    yield Input(placeholder="label for the account (optional: its login)", id="add-label")
                    with Horizontal(id="add-buttons"):
                        yield Button("Add (enter)", id="add", variant="primary")
                        yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        if self.operations.can_log_in:
            self._start_login()
        else:
            self.query_one("#login-steps", Static).update(Text(self.operations.login_not_configured))
            self.query_one("#add-token", Input).focus()

    @on(TabbedContent.TabActivated, "#add-tabs")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "paste-pane":
            self.query_one("#add-token", Input).focus()
        elif self.operations.can_log_in and not self._started:
            self._start_login()

    # -- log in with a code ------------------------------------------------------------------
    def _start_login(self) -> None:
        self._started = True
        self._show_status("asking Yandex ID for a code…")
        self._run_login()

    @work(exclusive=True, group="login")
    async def _run_login(self) -> None:
        try:
            self._login = await self.operations.start_login()
        except Refused as exc:
            self._show_status(str(exc), alert=True)
            self._started = False
            return
        prompt = self._login.prompt
        self.query_one("#login-steps", Static).update(
            Text.assemble(
                "Open ",
                (visible(prompt.verification_url), "bold underline"),
                " on any device (c copies it),\nsign in as the account to add, and enter this code:",
            )
        )
        self.query_one("#login-code", Static).update(
            Text(f"{big_text(visible(prompt.user_code))}\n\n{visible(prompt.user_code)}", style="bold")
        )
        self._tick()
        self._countdown = self.set_interval(1.0, self._tick)
        try:
            message = await self.operations.finish_login(self._login)
        except Refused as exc:
            self._stop_countdown()
            self._show_status(f"{exc} (Esc closes; open the tab again for a new code)", alert=True)
            self._started = False
            return
        self._stop_countdown()
        self.dismiss(("added", message))

    def _tick(self) -> None:
        if self._login is not None:
            left = max(0.0, self._login.seconds_left())
            self._show_status(f"waiting for the confirmation… {duration(left)} left · Esc cancels")

    def _stop_countdown(self) -> None:
        if self._countdown is not None:
            self._countdown.stop()
            self._countdown = None

    def _show_status(self, text: str, *, alert: bool = False) -> None:
        status = self.query_one("#login-status", Static)
        status.update(Text(visible(text)))  # the OAuth server's and the API's words among them
        status.set_class(alert, "-alert")

    def action_copy_url(self) -> None:
        if self._login is None:
            return
        self.app.copy_to_clipboard(self._login.prompt.verification_url)
        self.notify("the login URL is copied to the clipboard (OSC 52)")

    # -- paste a token -----------------------------------------------------------------------
    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "add-token":
            self.query_one("#add-label", Input).focus()
        else:
            self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "add":
            self._submit()
        else:
            self.action_cancel()

    def _submit(self) -> None:
        token = self.query_one("#add-token", Input).value.strip()
        if not token:
            self.notify("paste the account's OAuth token first", severity="warning")
            self.query_one("#add-token", Input).focus()
            return
        self._cancel_login()
        self.dismiss(("token", token, self.query_one("#add-label", Input).value.strip()))

    def action_cancel(self) -> None:
        self._cancel_login()
        self.dismiss(None)

    def _cancel_login(self) -> None:
        """Stop polling: a code nobody waits for is simply left to expire (nothing stored)."""
        self._stop_countdown()
        self.workers.cancel_group(self, "login")
