"""Every console action in one place: its binding id, default key, words, and palette entry.

The main screen's BINDINGS, the help screen and the command palette are all built from
`ACTIONS`, so an action cannot exist in one and be missing from another, and a key
remapped in the config file (`[keys] force-sync = "F5"`) shows remapped everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider


@dataclass(frozen=True, slots=True)
class ConsoleAction:
    id: str  # the binding id users remap in [keys]
    key: str  # the default key
    action: str  # the main screen's action_<name>
    title: str  # footer / palette words
    help: str  # one line in the help screen and palette
    changes_data: bool = False  # refused in --read-only
    footer: bool = True


#: the footer shows the actions marked `footer` in this order (the most used first, help
#: first of all: at 80 columns the footer shows every one of them, `?` and `q` included)
ACTIONS: tuple[ConsoleAction, ...] = (
    ConsoleAction("help", "question_mark", "help", "Help", "Show every key"),
    ConsoleAction(
        "force-sync", "f", "force_sync", "Force", "Sync the selected counter now, first in line", changes_data=True
    ),
    ConsoleAction("sync-due", "s", "sync_due", "Sync due", "Queue every counter that is due now", changes_data=True),
    ConsoleAction("retry-failed", "r", "retry_failed", "Retry", "Requeue every failed job", changes_data=True),
    ConsoleAction("failed-view", "F", "failed_view", "Failed", "Open the failed jobs: retry one or all"),
    ConsoleAction("filter", "slash", "filter", "Filter", "Filter by id, name, site, account, state or error"),
    ConsoleAction(
        "toggle-active",
        "d",
        "toggle_active",
        "Disable",
        "Disable the selected counter, or enable it again",
        changes_data=True,
    ),
    ConsoleAction(
        "pause-scheduler",
        "p",
        "pause_scheduler",
        "Pause",
        "Pause or resume planning (the display goes on)",
        changes_data=True,
    ),
    ConsoleAction(
        "force-sync-all",
        "S",
        "force_sync_all",
        "Force all",
        "Queue every counter, due or not (asks first)",
        changes_data=True,
        footer=False,
    ),
    ConsoleAction("sort", "o", "sort_next", "Sort", "Sort by the next column (or click a header)", footer=False),
    ConsoleAction("sort-reverse", "O", "sort_reverse", "Reverse sort", "Reverse the sort order", footer=False),
    ConsoleAction("toggle-log", "l", "toggle_log", "Log", "Show or hide the log pane", footer=False),
    ConsoleAction("freeze-log", "z", "freeze_log", "Follow log", "Pause or resume following the log", footer=False),
    ConsoleAction(
        "log-level", "v", "log_level", "Log level", "Log level: debug, info, warning or error and up", footer=False
    ),
    ConsoleAction(
        "toggle-detail", "i", "toggle_detail", "Details", "Show or hide the selected counter's details", footer=False
    ),
    ConsoleAction("copy-row", "c", "copy_row", "Copy row", "Copy the row (OSC 52: works over SSH too)", footer=False),
    ConsoleAction(
        "add-account",
        "a",
        "add_account",
        "Add account",
        "Add an account: log in with a code, or paste its token (hidden)",
        changes_data=True,
        footer=False,
    ),
)
#: bindings that live on the app, listed in help with the rest
APP_KEYS: tuple[tuple[str, str, str], ...] = (
    ("quit", "q", "Quit: running jobs finish or are given back"),
    ("command-palette", "ctrl+p", "Open the command palette: every action by name"),
    ("focus-next", "tab", "Jump to the next pane (shift+tab: back)"),
)


def screen_bindings() -> list[Binding]:
    """The main screen's keys; `q` among the first shown in the footer (it is the app's)."""
    shown = [Binding(a.key, a.action, a.title, show=a.footer, id=a.id, tooltip=a.help) for a in ACTIONS]
    quit_key = Binding("q", "app.quit", "Quit", id="quit", tooltip=APP_KEYS[0][2])
    return [shown[0], quit_key, *shown[1:]]


def effective_key(binding_id: str, default: str, keymap: Mapping[str, str]) -> str:
    """The key a user presses for a binding, after their [keys] remapping."""
    return keymap.get(binding_id, default)


class ConsoleCommands(Provider):
    """The command palette's view of `ACTIONS`: every action, by name, on the main screen."""

    def _entries(self):
        main = getattr(self.app, "main_screen", None)
        if main is None:
            return
        for action in ACTIONS:
            yield action, partial(main.run_action, action.action)

    async def discover(self) -> Hits:
        for action, run in self._entries():
            yield DiscoveryHit(action.title, run, help=action.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for action, run in self._entries():
            words = f"{action.title} {action.help}"
            if (score := matcher.match(words)) > 0:
                yield Hit(score, matcher.highlight(action.title), run, text=action.title, help=action.help)
