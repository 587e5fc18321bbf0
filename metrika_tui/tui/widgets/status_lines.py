"""The header line, the summary line and the accounts line: words from one snapshot.

The text is built by pure functions (tested without a terminal); the widgets only show it.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any
from zoneinfo import ZoneInfo

from textual.widgets import Static

from metrika_tui.timefmt import until
from metrika_tui.tui.css import tcss_next_to


def header_text(
    *, db: str, scheduler_state: str, next_sync: dt.datetime | None, snapshot: Any | None, tz: ZoneInfo,
    now: dt.datetime | None = None,
) -> str:
    """`db … │ scheduler running │ next 12:00 (in 35m) │ workers 2/6 │ queue 5 │ 3.2 req/s │ quota 87%`."""
    parts = [f"db {db}", f"scheduler {scheduler_state}"]
    if snapshot is None:
        return " │ ".join(parts + ["starting…"])
    now = now or snapshot.taken_at
    parts.append(
        f"next {next_sync.astimezone(tz):%H:%M} ({until(next_sync, now)})" if next_sync else "next —"
    )
    parts += [
        f"workers {snapshot.workers_busy}/{snapshot.workers_total}",
        f"queue {snapshot.queue_depth}",
        f"{snapshot.requests_per_second:.1f} req/s",
        f"quota {round(100 * snapshot.quota_headroom)}%",
    ]
    return " │ ".join(parts)


def summary_text(summary: Any) -> str:
    """The same figures as `sync-status`: total, in sync, pending, overdue, failed, percent."""
    text = (f"Total {summary.total} · in sync {summary.in_sync} · pending {summary.pending}"
            f" · overdue {summary.overdue} · failed {summary.failed}")  # fmt: skip
    if summary.queued or summary.syncing:
        held = f" ({summary.held} held by a stopped process)" if summary.held else ""
        text += f" · queued {summary.queued}{held} · syncing {summary.syncing}"
    if summary.disabled or summary.revoked:
        text += f" · disabled {summary.disabled} · revoked {summary.revoked}"
    return text + f" · overall {summary.overall_percent}%"


def accounts_text(snapshot: Any) -> str:
    """Each account with its status and how many counters it has."""
    counts = {key: len(list(group)) for key, group in
              itertools.groupby(snapshot.counters, key=lambda c: c.account_id)}  # fmt: skip
    entries = []
    for account in snapshot.accounts:
        name = account.login or account.user_id or f"#{account.id}"
        status = "⊘ revoked" if account.revoked else "active"
        entries.append(f"{name} ({status}, {counts.get(account.id, 0)} counters)")
    return "Accounts: " + " · ".join(entries) if entries else "Accounts: none"


class StatusLine(Static):
    """One line of words; `-alert` marks it when something needs the user's eye."""

    DEFAULT_CSS = tcss_next_to(__file__)

    def show(self, text: str, *, alert: bool = False) -> None:
        self.update(text)
        self.set_class(alert, "-alert")
