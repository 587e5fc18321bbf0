"""Add an account from the console: the token is typed into a password field, never shown."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static


class AddAccountScreen(ModalScreen[tuple[str, str] | None]):
    """Asks for the OAuth token (masked) and an optional label; dismisses with both, or None."""

    CSS_PATH = "add_account.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="add-account-cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="add-box"):
            yield Static("[b]Add a Yandex Metrika account[/b]\n"
                         "The token is checked against the API, stored in the database (0600),\n"
                         "and shown masked everywhere.", id="add-intro")  # fmt: skip
            yield Input(placeholder="OAuth token (input hidden)", password=True, id="add-token")
            yield Input(placeholder="label for the account (optional: its login)", id="add-label")
            with Horizontal(id="add-buttons"):
                yield Button("Add (enter)", id="add", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#add-token", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "add-token":
            self.query_one("#add-label", Input).focus()
        else:
            self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "add":
            self._submit()
        else:
            self.dismiss(None)

    def _submit(self) -> None:
        token = self.query_one("#add-token", Input).value.strip()
        if not token:
            self.notify("paste the account's OAuth token first", severity="warning")
            self.query_one("#add-token", Input).focus()
            return
        self.dismiss((token, self.query_one("#add-label", Input).value.strip()))

    def action_cancel(self) -> None:
        self.dismiss(None)
