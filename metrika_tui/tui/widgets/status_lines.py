"""The header line, the summary line and the accounts line: words from one snapshot.

The text is built by pure functions (tested without a terminal); the widgets only show it.
"""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

from textual.widgets import Static

from metrika_tui.engine.planner import Pace
from metrika_tui.engine.service import EngineSnapshot
from metrika_tui.engine.status import Summary
from metrika_tui.text import visible
from metrika_tui.timefmt import span, until
from metrika_tui.tui.css import tcss_next_to

#: cells of the small bar of a login's daily quota used
QUOTA_BAR = 5


def header_text(
    *,
    db: str,
    scheduler_state: str,
    next_sync: dt.datetime | None,
    snapshot: EngineSnapshot | None,
    tz: ZoneInfo,
    now: dt.datetime | None = None,
) -> str:
    """`db … │ scheduler running │ next 12:00 (in 35m) │ workers 2/6 │ queue 5 │ 3.2 req/s │ reports 87%` (the 5-minute report budget left)."""
    parts = [f"db {visible(db)}", f"scheduler {scheduler_state}"]
    if snapshot is None:
        return " │ ".join(parts + ["starting…"])
    now = now or snapshot.taken_at
    parts.append(f"next {next_sync.astimezone(tz):%H:%M} ({until(next_sync, now)})" if next_sync else "next —")
    parts += [
        f"workers {snapshot.workers_busy}/{snapshot.workers_total}",
        f"queue {snapshot.queue_depth}",
        f"{snapshot.requests_per_second:.1f} req/s",
        f"reports {round(100 * snapshot.quota_headroom)}%",
    ]
    return " │ ".join(parts)


def summary_text(summary: Summary) -> str:
    """The same figures as `sync-status`: total, in sync, pending, overdue, failed, percent."""
    text = (
        f"Total {summary.total} · in sync {summary.in_sync} · pending {summary.pending}"
        f" · overdue {summary.overdue} · failed {summary.failed}"
    )
    if summary.queued or summary.syncing:
        held = f" ({summary.held} held by a stopped process)" if summary.held else ""
        text += f" · queued {summary.queued}{held} · syncing {summary.syncing}"
    if summary.disabled or summary.revoked:
        text += f" · disabled {summary.disabled} · revoked {summary.revoked}"
    if summary.sampled:
        text += f" · sampled ≈ {summary.sampled}"
    return text + f" · overall {summary.overall_percent}%"


def accounts_text(snapshot: EngineSnapshot) -> str:
    """Each account with its status, how many counters it has, and its login's day: the daily
    quota used (a small bar) and how often its counters are synced (`⚠` when the quota
    stretches the configured interval)."""
    counts = {key: len(list(group)) for key, group in itertools.groupby(snapshot.counters, key=lambda c: c.account_id)}
    entries = []
    for account in snapshot.accounts:
        name = visible(account.login or account.user_id or f"#{account.id}")
        if account.revoked:
            entries.append(f"{name} (⊘ revoked, {counts.get(account.id, 0)} counters)")
            continue
        warning = ""
        if account.token_warning:
            warning = (
                "⚠ log in again, "
                if account.login_needed or "expired" in account.token_warning
                else (f"⚠ token expires {account.token_expires_at:%Y-%m-%d}, ")
            )
        pace = snapshot.paces.get(account.quota_login)
        quota = f", {quota_text(pace)}" if pace is not None else ""
        entries.append(f"{name} ({warning}{counts.get(account.id, 0)} counters{quota})")
    return "Accounts: " + " · ".join(entries) if entries else "Accounts: none"


def quota_text(pace: Pace) -> str:
    """`▰▰▱▱▱ 2.3k/5k today, every 60m`; stretched: `… every 2h 32m ⚠`; spent: `… spent`."""
    share = min(1.0, (pace.used / pace.per_day) if pace.per_day else 1.0)
    filled = round(QUOTA_BAR * share)
    bar = "▰" * filled + "▱" * (QUOTA_BAR - filled)
    used = f"{bar} {_short(pace.used)}/{_short(pace.per_day)} today"
    if pace.spent_until is not None:
        return f"{used}, spent"
    return f"{used}, every {span(pace.effective_interval)}{' ⚠' if pace.stretched else ''}"


def _short(number: int) -> str:
    """1234 -> 1.2k, 5000 -> 5k"""
    if number < 1000:
        return str(number)
    return f"{number / 1000:.1f}".rstrip("0").rstrip(".") + "k"


class StatusLine(Static):
    """One line of words; `-alert` marks it when something needs the user's eye. The words
    hold outside text (logins, paths, errors): never parsed as markup, controls made visible."""

    DEFAULT_CSS = tcss_next_to(__file__)

    def __init__(self, content: str = "", *, id: str | None = None) -> None:
        super().__init__(visible(content), id=id, markup=False)

    def show(self, text: str, *, alert: bool = False) -> None:
        self.update(visible(text))
        self.set_class(alert, "-alert")
