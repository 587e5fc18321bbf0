"""Every console action in one place: its binding id, default key and words; and the check of
the config file's [keys] remapping.

Textual-free, so the CLI checks [keys] before any command runs (the daemon's included): an
unknown binding id or two actions on one key stop the command instead of being ignored.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from metrika_tui.settings import SettingsError, nearest


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


#: binding ids the [keys] section may remap: every action's, and the app's own with an id
REMAPPABLE: tuple[str, ...] = (*(a.id for a in ACTIONS), "quit", "command-palette")
#: every binding's default key and its words, the actions' and the app's alike
DEFAULT_KEYS: dict[str, str] = {a.id: a.key for a in ACTIONS} | {bid: key for bid, key, _ in APP_KEYS}
WORDS: dict[str, str] = {a.id: a.help for a in ACTIONS} | {bid: what for bid, _, what in APP_KEYS}
#: Textual's names of the characters it spells out (its `KEY_NAME_REPLACEMENTS`)
_KEY_NAMES = {
    "solidus": "slash",
    "reverse_solidus": "backslash",
    "commercial_at": "at",
    "hyphen_minus": "minus",
    "plus_sign": "plus",
    "low_line": "underscore",
}


def effective_key(binding_id: str, default: str, keymap: Mapping[str, str]) -> str:
    """The key a user presses for a binding, after their [keys] remapping."""
    return keymap.get(binding_id, default)


def key_names(keys: str) -> list[str]:
    """A comma-separated key list in Textual's long names ("?" is "question_mark"), as Textual
    reads a keymap; kept here so the check needs no Textual (a test holds the two equal)."""
    names = []
    for key in (k.strip() for k in keys.split(",")):
        if len(key) == 1 and not key.isalnum():
            try:
                key = unicodedata.name(key).lower().replace("-", "_").replace(" ", "_")
            except ValueError:
                key = "tab" if key == "\t" else key
            key = _KEY_NAMES.get(key, key)
        names.append(key)
    return names


def check_keymap(keymap: Mapping[str, str], path: Path) -> None:
    """Refuse a remapping the console would silently get wrong: an unknown binding id, an empty
    key, or one key for two actions (the first would win, the other be unreachable)."""
    for binding_id, keys in keymap.items():
        if binding_id not in REMAPPABLE:
            raise SettingsError(f"unknown key binding {binding_id!r} in {path} [keys]{nearest(binding_id, REMAPPABLE)}")
        if not keys.strip() or not all(key_names(keys)):
            raise SettingsError(f"{path} [keys]: {binding_id!r} has no key")
    taken: dict[str, tuple[str, str]] = {}  # key name -> (binding id, the key as written)
    for binding_id, default in DEFAULT_KEYS.items():
        keys = effective_key(binding_id, default, keymap)
        for spelled, name in zip((k.strip() for k in keys.split(",")), key_names(keys)):
            other, first = taken.setdefault(name, (binding_id, spelled))
            if other != binding_id:
                shown = first if other in keymap else spelled  # as the user wrote it
                raise SettingsError(f"{path} [keys]: {shown!r} is bound to both {other!r} and {binding_id!r}")


def render_doc() -> str:
    """The [keys] part of docs/configuration.md: every binding id a user may remap, its key."""
    lines = [
        "## [keys]",
        "",
        'Console keys, remapped by binding id: `force-sync = "x"`; several keys comma-separated'
        ' (`"f5,x"`). The console\'s help (`?`) shows them with the remapping applied.',
        "",
        "| binding id | default key | what it does |",
        "|---|---|---|",
    ]
    lines += [f"| `{bid}` | `{DEFAULT_KEYS[bid]}` | {WORDS[bid]} |" for bid in REMAPPABLE]
    return "\n".join([*lines, ""])
