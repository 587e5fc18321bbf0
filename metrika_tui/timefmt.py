"""Short relative times ("5m ago", "in 55m") shared by the commands and the console, and the
moments of --json."""

from __future__ import annotations

import datetime as dt


def span(delta: dt.timedelta) -> str:
    """A compact, rounded-down duration: 45s, 5m, 3h 20m, 2d 4h."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def duration(seconds: float) -> str:
    """A wait told to the second under an hour, to the minute above, rounded: 12s, 4m 12s,
    11h 58m (a wait is counted down by the second; `span` rounds an age down)."""
    hours, rest = divmod(max(0, round(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


def ago(moment: dt.datetime | None, now: dt.datetime) -> str:
    return "never" if moment is None else f"{span(now - moment)} ago"


def until(moment: dt.datetime | None, now: dt.datetime) -> str:
    if moment is None:
        return "—"
    return "now" if moment <= now else f"in {span(moment - now)}"


def iso_z(moment: dt.datetime | None) -> str | None:
    """A moment for --json: ISO 8601 in UTC with a Z (None stays None)."""
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if moment else None
