"""`metrika-tui sync-status`: the old `analytics:sync-status`, as text or one JSON object."""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
from typing import Any
from zoneinfo import ZoneInfo

from metrika_tui.cli.session import run_with_engine
from metrika_tui.cli.style import Style
from metrika_tui.engine.contract import CommandEngine
from metrika_tui.engine.planner import Pace
from metrika_tui.engine.scheduler import next_slot_after
from metrika_tui.engine.service import EngineSnapshot
from metrika_tui.engine.status import CounterState, CounterStatus
from metrika_tui.settings import Settings
from metrika_tui.text import dumps, visible
from metrika_tui.timefmt import ago, iso_z, span, until


def run_status(settings: Settings, args: argparse.Namespace) -> int:
    async def body(engine: CommandEngine) -> int:
        snapshot = await engine.snapshot()
        next_sync = snapshot.next_scheduled_sync_at or next_slot_after(snapshot.taken_at, engine.settings)
        if args.json:
            print(dumps(as_json(snapshot, next_sync), indent=2))
        else:
            print(render_text(snapshot, next_sync, Style.detect(), engine.settings.tz))
        return 0

    return run_with_engine(settings, body)


def as_json(snapshot: EngineSnapshot, next_sync: dt.datetime | None) -> dict[str, Any]:
    by_account = {k: list(g) for k, g in itertools.groupby(snapshot.counters, key=lambda c: c.account_id)}
    return {
        "accounts": [
            {
                "id": account.id,
                "user_id": account.user_id,
                "login": account.login,
                "status": "revoked" if account.revoked else "active",
                "quota": quota_json(snapshot.paces.get(account.quota_login)),
                "uid": account.uid,
                "token_expires_at": iso_z(account.token_expires_at),
                "token_refreshable": account.has_refresh_token,
                "login_needed": account.login_needed,
                "token_warning": account.token_warning,
                "counters": [
                    {
                        "counter_id": c.counter_id,
                        "name": c.name,
                        "site": c.site,
                        "state": c.state.value,
                        "last_fetched_at": iso_z(c.last_fetched_at),
                        "next_due_at": iso_z(c.next_due_at),
                        "last_error": c.last_error,
                        "sample_share": c.sample_share,
                        "held_by": c.held_by,
                    }
                    for c in by_account.get(account.id, [])
                ],
            }
            for account in snapshot.accounts
        ],
        "summary": {
            **snapshot.summary.as_dict(),
            "freshness": snapshot.freshness.as_dict() if snapshot.freshness else None,
        },
        "next_scheduled_sync_at": iso_z(next_sync),
        "generated_at": iso_z(snapshot.taken_at),
    }


def quota_json(pace: Pace | None) -> dict[str, Any] | None:
    """An account's login's day: what `quota` holds in `sync-status --json`."""
    if pace is None:
        return None
    return {
        "login": pace.login,
        "requests_per_day": pace.per_day,
        "used_today": pace.used,
        "resets_at": iso_z(pace.resets_at),
        "effective_interval_minutes": round(pace.effective_interval.total_seconds() / 60),
        "stretched": pace.stretched,
        "spent_until": iso_z(pace.spent_until),
    }


def quota_line(pace: Pace, now: dt.datetime) -> str:
    """'Quota: 1,234 of 5,000 requests today (login agency-1, resets in 5h 2m); each counter
    every 2h 32m (its quota cannot keep 60 min)'"""
    line = (
        f"Quota: {pace.used:,} of {pace.per_day:,} requests today (login {visible(pace.login)},"
        f" resets {until(pace.resets_at, now)})"
    )
    if pace.spent_until is not None:
        return line + f"; spent until {pace.spent_until:%H:%M} UTC (the API said so)"
    if pace.stretched:
        return line + (
            f"; each counter every {span(pace.effective_interval)} (its quota cannot keep {span(pace.interval)})"
        )
    return line


def describe(counter: CounterStatus, now: dt.datetime) -> str:
    """The words after the state, as the original report put them."""
    state = counter.state
    sampled = f" (figures sampled: {counter.sample_share:.0%} of visits)" if counter.sample_share is not None else ""
    if state is CounterState.OK:
        return f"synced {ago(counter.last_fetched_at, now)}, next {until(counter.next_due_at, now)}{sampled}"
    if state is CounterState.OVERDUE:
        return f"last sync {ago(counter.last_fetched_at, now)}"
    if state is CounterState.PENDING:
        return "never synced"
    if state is CounterState.FAILED:
        return f"{visible(counter.last_error or 'unknown error')}; {counter.attempts} attempt(s)"
    if counter.held_by:
        return f"{counter.held_by}; last sync {ago(counter.last_fetched_at, now)}"
    if state in (CounterState.QUEUED, CounterState.SYNCING):
        return f"last sync {ago(counter.last_fetched_at, now)}"
    if state is CounterState.REVOKED:
        return "account token revoked"
    return "disabled: not planned"


def render_text(snapshot: EngineSnapshot, next_sync: dt.datetime | None, style: Style, tz: ZoneInfo) -> str:
    now = snapshot.taken_at
    lines = [f"{style.mark('📊 ', '')}Sync Status Report", style.rule()]
    by_account = {k: list(g) for k, g in itertools.groupby(snapshot.counters, key=lambda c: c.account_id)}
    if not snapshot.accounts:
        lines += [
            "",
            "No accounts yet. Add one:  metrika-tui accounts add",
            "or try everything on the simulator:  metrika-tui --demo",
        ]
    for account in snapshot.accounts:
        counters = by_account.get(account.id, [])
        status = (
            style.mark("⛔ ", "") + style.paint("REVOKED", "red")
            if account.revoked
            else (style.mark("✅ ", "") + style.paint("ACTIVE", "green"))
        )
        lines += [
            "",
            f"{style.mark('👤 ', '')}Account {account.id} (User: {visible(account.user_id)})",
            f"   Status: {status}",
            f"   Counters: {len(counters)}",
        ]
        if (pace := snapshot.paces.get(account.quota_login)) is not None and not account.revoked:
            lines.append(f"   {quota_line(pace, now)}")
        if account.token_warning:
            lines.append(
                f"   {style.mark('⚠️  ', '[!] ')}{style.paint('Token: ' + visible(account.token_warning), 'yellow')}"
            )
        elif account.token_expires_at and not account.revoked:
            how = "refreshed before then" if account.has_refresh_token else "not refreshable"
            lines.append(f"   Token: valid until {account.token_expires_at:%Y-%m-%d} ({how})")
        for c in counters:
            lines.append(f"   {style.state(c.state)}  Counter {c.counter_id} {visible(c.name)}: {describe(c, now)}")
    s = snapshot.summary
    lines += [
        "",
        style.rule(),
        "Summary:",
        f"   Total counters: {s.total}",
        f"   {style.mark('✅ ', '')}In sync: {s.in_sync}",
        f"   {style.mark('⏳ ', '')}Pending: {s.pending}",
        f"   {style.mark('🔴 ', '')}Overdue: {s.overdue}",
        f"   {style.mark('❌ ', '')}Failed: {s.failed}",
    ]
    if s.queued or s.syncing:
        held = f" ({s.held} held by a process that stopped)" if s.held else ""
        lines.append(f"   {style.mark('📥 ', '')}Queued: {s.queued}{held}, syncing: {s.syncing}")
    if s.disabled or s.revoked:
        lines.append(f"   Not synced: {s.disabled} disabled, {s.revoked} of revoked accounts")
    fresh = snapshot.freshness
    if fresh is not None and fresh.median_age is not None and fresh.oldest_age is not None:  # some measured
        lines.append(f"   Data age: median {span(fresh.median_age)}, oldest {span(fresh.oldest_age)}")
    if s.sampled:
        lines.append(f"   {style.mark('≈ ', '')}Sampled: {s.sampled} (the API estimated their figures from a sample)")
    lines += [
        f"   Overall: {s.overall_percent}%",
        "",
        f"{style.mark('⏰ ', '')}Next scheduled sync: {until(next_sync, now)}"
        f" ({next_sync.astimezone(tz).strftime('%H:%M %Z')})"
        if next_sync
        else "Next scheduled sync: unknown",
        "   (Run 'metrika-tui sync --force' to sync now)",
    ]
    return "\n".join(lines)
