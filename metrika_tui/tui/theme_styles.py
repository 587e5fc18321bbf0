"""Rich styles taken from the current Textual theme, for cells that cannot carry CSS classes.

A table cell is drawn from Rich text, so a state's colour cannot come from a CSS class;
it comes from the theme's variables instead (never a literal colour), and is rebuilt
whenever the theme changes. Without colour (NO_COLOR, a dumb terminal) the symbol and the
word still say everything.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.style import Style
from textual.color import Color, ColorParseError

from metrika_tui.engine.status import CounterState

#: how each state reads without colour (symbol) and which theme variable colours it
STATE_LOOK: dict[CounterState, tuple[str, str]] = {
    CounterState.PENDING: ("○", "secondary"),
    CounterState.QUEUED: ("◷", "accent"),
    CounterState.SYNCING: ("⟳", "primary"),
    CounterState.OK: ("✓", "success"),
    CounterState.OVERDUE: ("!", "warning"),
    CounterState.FAILED: ("✗", "error"),
    CounterState.DISABLED: ("–", "foreground-muted"),
    CounterState.REVOKED: ("⊘", "error"),
}


def state_text(state: CounterState) -> str:
    """`✓ OK`: the symbol and the word, so the state reads without colour."""
    return f"{STATE_LOOK[state][0]} {state.label}"


def _solid(value: str | None, background: Color) -> Color | None:
    """A theme value as an opaque colour (Rich has no alpha: blend over the background)."""
    if not value:
        return None
    try:
        color = Color.parse(value)
    except ColorParseError:  # e.g. "auto 60%": not a colour on its own
        return None
    return background.blend(color.with_alpha(1.0), color.a) if color.a < 1 else color


class ThemeStyles:
    """The styles the counter table needs, resolved from one theme's variables."""

    def __init__(self, variables: Mapping[str, str]) -> None:
        background = _solid(variables.get("background"), Color(0, 0, 0)) or Color(0, 0, 0)
        self.states: dict[CounterState, Style] = {}
        for state, (_, variable) in STATE_LOOK.items():
            color = _solid(variables.get(variable), background)
            self.states[state] = Style(
                color=color.rich_color if color else None, bold=state in (CounterState.FAILED, CounterState.REVOKED)
            )
        muted = _solid(variables.get("foreground-muted"), background)
        self.greyed = Style(color=muted.rich_color if muted else None, dim=True)
        error = _solid(variables.get("text-error") or variables.get("error"), background)
        self.error = Style(color=error.rich_color if error else None)
        warning = _solid(variables.get("text-warning") or variables.get("warning"), background)
        self.warning = Style(color=warning.rich_color if warning else None)
