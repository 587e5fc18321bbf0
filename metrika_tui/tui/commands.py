"""The console's actions as Textual sees them: the main screen's BINDINGS and the palette.

Both are built from `keymap.ACTIONS`, as the help screen is, so an action cannot exist in one
and be missing from another, and a key remapped in the config file (`[keys] force-sync = "F5"`)
shows remapped everywhere.
"""

from __future__ import annotations

from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

from metrika_tui.tui.keymap import ACTIONS, APP_KEYS

__all__ = ["ACTIONS", "APP_KEYS", "ConsoleCommands", "screen_bindings"]


def screen_bindings() -> list[Binding]:
    """The main screen's keys; `q` among the first shown in the footer (it is the app's)."""
    shown = [Binding(a.key, a.action, a.title, show=a.footer, id=a.id, tooltip=a.help) for a in ACTIONS]
    quit_key = Binding("q", "app.quit", "Quit", id="quit", tooltip=APP_KEYS[0][2])
    return [shown[0], quit_key, *shown[1:]]


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
