"""`?`: every key, with the user's remapping applied, and what it does."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from metrika_tui.tui.keymap import ACTIONS, APP_KEYS, effective_key


def help_rows(keymap: Mapping[str, str], read_only: bool) -> list[tuple[str, str, str]]:
    """(key, binding id, what it does) for every action, the most used first (help, then
    quit); read-only marks what is refused."""
    rows = []
    for action in ACTIONS:
        words = action.help + (" (refused: read-only)" if read_only and action.changes_data else "")
        rows.append((effective_key(action.id, action.key, keymap), action.id, words))
    app_rows = [(effective_key(bid, key, keymap), bid, words) for bid, key, words in APP_KEYS]
    rows = [rows[0], app_rows[0], *rows[1:], *app_rows[1:]]
    return [(key.replace("question_mark", "?").replace("slash", "/"), bid, words) for key, bid, words in rows]


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "help.tcss"
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help-close")]

    def __init__(self, keymap: Mapping[str, str], *, read_only: bool = False) -> None:
        super().__init__()
        self.keymap = keymap
        self.read_only = read_only

    def compose(self) -> ComposeResult:
        # what matters most on top, so 80 x 24 shows it unscrolled: closing, the states, then the keys
        with VerticalScroll(id="help-box"):
            yield Static(
                Text.assemble(
                    ("Keys", "bold"), ' · Esc, q or ? closes · remap: [keys] <binding id> = "key" (config file)'
                )
            )
            yield Static(
                "States: ○ PENDING  ◷ QUEUED  ⟳ SYNCING  ✓ OK  ! OVERDUE\n"
                "        ✗ FAILED  – DISABLED  ⊘ REVOKED  (≈: figures sampled)",
                id="help-states",
            )
            yield DataTable(id="help-keys", cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one("#help-keys", DataTable)
        table.add_columns("Key", "Binding id", "What it does")
        # keys come from the config file: Text, so a "[" in one is a key, not markup
        table.add_rows([tuple(map(Text, row)) for row in help_rows(self.keymap, self.read_only)])
        table.can_focus = False  # the box scrolls (arrows, page keys); focus on the table would scroll to it
        self.query_one("#help-box").focus()
