"""`metrika-tui sync-status`: the old `analytics:sync-status`, as text or one JSON object."""

from __future__ import annotations

import itertools
import json
import sys

from metrika_tui.cli.session import run_with_engine
from metrika_tui.cli.style import Style
from metrika_tui.engine.scheduler import next_slot_after
from metrika_tui.engine.status import CounterState, CounterStatus
from metrika_tui.settings import Settings
from metrika_tui.timefmt import ago, until


def run_status(settings: Settings, args) -> int:
    async def body(engine) -> int:
        snapshot = await engine.snapshot()
        next_sync = snapshot.next_scheduled_sync_at or next_slot_after(snapshot.taken_at, engine.settings)
        if args.json:
            print(json.dumps(as_json(snapshot, next_sync), indent=2, ensure_ascii=False))
        else:
            print(render_text(snapshot, next_sync, Style.detect(), engine.settings.tz))
        return 0

    return run_with_engine(settings, body)


def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def as_json(snapshot, next_sync) -> dict:
    by_account = {k: list(g) for k, g in itertools.groupby(snapshot.counters, key=lambda c: c.account_id)}
    return {
        "accounts": [
            {
                "id": account.id,
                "user_id": account.user_id,
                "login": account.login,
                "status": "revoked" if account.revoked else "active",
                "counters": [
                    {
                        "counter_id": c.counter_id,
                        "name": c.name,
                        "site": c.site,
                        "state": c.state.value,
                        "last_fetched_at": _iso(c.last_fetched_at),
                        "next_due_at": _iso(c.next_due_at),
                        "last_error": c.last_error,
                        "held_by": c.held_by,
                    }
                    for c in by_account.get(account.id, [])
                ],
            }
            for account in snapshot.accounts
        ],
        "summary": snapshot.summary.as_dict(),
        "next_scheduled_sync_at": _iso(next_sync),
        "generated_at": _iso(snapshot.taken_at),
    }


def describe(counter: CounterStatus, now) -> str:
    """The words after the state, as the original report put them."""
    state = counter.state
    if state is CounterState.OK:
        return f"synced {ago(counter.last_fetched_at, now)}, next {until(counter.next_due_at, now)}"
    if state is CounterState.OVERDUE:
        return f"last sync {ago(counter.last_fetched_at, now)}"
    if state is CounterState.PENDING:
        return "never synced"
    if state is CounterState.FAILED:
        return f"{counter.last_error or 'unknown error'}; {counter.attempts} attempt(s)"
    if counter.held_by:
        return f"{counter.held_by}; last sync {ago(counter.last_fetched_at, now)}"
    if state in (CounterState.QUEUED, CounterState.SYNCING):
        return f"last sync {ago(counter.last_fetched_at, now)}"
    if state is CounterState.REVOKED:
        return "account token revoked"
    return "disabled: not planned"


def render_text(snapshot, next_sync, style: Style, tz) -> str:
    now = snapshot.taken_at
    lines = [f"{style.mark('📊 ', '')}Sync Status Report", style.rule()]
    by_account = {k: list(g) for k, g in itertools.groupby(snapshot.counters, key=lambda c: c.account_id)}
    if not snapshot.accounts:
        lines += ["", "No accounts yet. Add one:  metrika-tui accounts add",
                  "or try everything on the simulator:  metrika-tui --demo"]  # fmt: skip
    for account in snapshot.accounts:
        counters = by_account.get(account.id, [])
        status = style.mark("⛔ ", "") + style.paint("REVOKED", "red") if account.revoked else (
            style.mark("✅ ", "") + style.paint("ACTIVE", "green"))  # fmt: skip
        lines += ["", f"{style.mark('👤 ', '')}Account {account.id} (User: {account.user_id})",
                  f"   Status: {status}", f"   Counters: {len(counters)}"]  # fmt: skip
        for c in counters:
            lines.append(f"   {style.state(c.state)}  Counter {c.counter_id} {c.name}: {describe(c, now)}")
    s = snapshot.summary
    lines += ["", style.rule(), "Summary:",
              f"   Total counters: {s.total}",
              f"   {style.mark('✅ ', '')}In sync: {s.in_sync}",
              f"   {style.mark('⏳ ', '')}Pending: {s.pending}",
              f"   {style.mark('🔴 ', '')}Overdue: {s.overdue}",
              f"   {style.mark('❌ ', '')}Failed: {s.failed}"]  # fmt: skip
    if s.queued or s.syncing:
        held = f" ({s.held} held by a process that stopped)" if s.held else ""
        lines.append(f"   {style.mark('📥 ', '')}Queued: {s.queued}{held}, syncing: {s.syncing}")
    if s.disabled or s.revoked:
        lines.append(f"   Not synced: {s.disabled} disabled, {s.revoked} of revoked accounts")
    lines += [f"   Overall: {s.overall_percent}%", "",
              f"{style.mark('⏰ ', '')}Next scheduled sync: {until(next_sync, now)}"
              f" ({next_sync.astimezone(tz).strftime('%H:%M %Z')})" if next_sync else
              "Next scheduled sync: unknown",
              "   (Run 'metrika-tui sync --force' to sync now)"]  # fmt: skip
    return "\n".join(lines)

