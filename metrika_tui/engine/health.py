"""`metrika-tui health`: is the sync doing its job? For HEALTHCHECK, systemd and monitoring.

Healthy when three things hold:
- the database opens (a missing one is not created: nothing was ever synced there);
- a scheduler is alive: some process planned the last slot of the schedule (the current
  one, or the one before while the current slot's tick may still be on its way). A daemon
  or console covers the slot it starts in, so a fresh start is healthy at once;
- no active counter of a live account has data older than the bound: `max_age` if given,
  else DEFAULT_INTERVALS of its login's effective interval (the quota's stretched cadence
  counted). A counter never synced is as old as the time since it was added.
With nothing to sync at all (no accounts, every account revoked, every counter disabled)
it is not healthy either: the sync is not doing anything.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from metrika_tui.engine import planner
from metrika_tui.engine.scheduler import STALL_GRACE, current_slot
from metrika_tui.settings import Settings
from metrika_tui.store import Store, StoreError
from metrika_tui.store.monitoring import PlannedSlot, Scope
from metrika_tui.text import visible
from metrika_tui.timefmt import iso_z, span

#: the default bound on a counter's data age, in its login's (effective) intervals
DEFAULT_INTERVALS = 3
#: stale counters named in the reason line (all of them are counted, and listed in --json)
NAMED = 3
#: stale counters listed in --json
LISTED = 100


@dataclass(frozen=True, slots=True)
class Stale:
    counter_id: int
    name: str
    age: dt.timedelta
    bound: dt.timedelta
    synced: bool  # False: never synced, `age` since it was added


@dataclass(frozen=True)
class Health:
    healthy: bool
    reasons: tuple[str, ...]
    checked_at: dt.datetime
    db_path: str
    opened: bool = False
    last_slot: PlannedSlot | None = None
    due_slot: dt.datetime | None = None  # the slot someone should have planned by now
    scheduler_alive: bool = False
    scope: Scope | None = None
    stale: tuple[Stale, ...] = ()
    stale_count: int = 0
    oldest_age: dt.timedelta | None = None
    max_age: dt.timedelta | None = None  # as given; None: each login's DEFAULT_INTERVALS

    def as_dict(self) -> dict[str, Any]:
        def seconds(delta: dt.timedelta | None) -> float | None:
            return round(delta.total_seconds(), 1) if delta is not None else None

        return {
            "healthy": self.healthy,
            "reasons": list(self.reasons),
            "checked_at": iso_z(self.checked_at),
            "database": {"path": self.db_path, "opened": self.opened},
            "scheduler": {
                "alive": self.scheduler_alive,
                "due_slot": iso_z(self.due_slot),
                "last_planned_slot": iso_z(self.last_slot.slot) if self.last_slot else None,
                "planned_at": iso_z(self.last_slot.planned_at) if self.last_slot else None,
                "planned_by": self.last_slot.origin if self.last_slot else None,
            },
            "data": {
                "active_counters": self.scope.active_counters if self.scope else 0,
                "accounts": self.scope.accounts if self.scope else 0,
                "revoked_accounts": self.scope.revoked_accounts if self.scope else 0,
                "oldest_age_seconds": seconds(self.oldest_age),
                "max_age_seconds": seconds(self.max_age),
                "stale_counters": self.stale_count,
                "stale": [
                    {
                        "counter_id": s.counter_id,
                        "name": s.name,
                        "age_seconds": seconds(s.age),
                        "bound_seconds": seconds(s.bound),
                        "ever_synced": s.synced,
                    }
                    for s in self.stale[:LISTED]
                ],
            },
        }


async def check_health(
    settings: Settings, *, max_age: dt.timedelta | None = None, now: dt.datetime | None = None
) -> Health:
    """The health of the sync on `settings.db_path` at `now`; never raises for the database."""
    now = now or dt.datetime.now(dt.UTC)
    location = settings.db_path
    unhealthy = Health(False, (), now, str(location), max_age=max_age)
    if location.exists() is False:
        return replace(unhealthy, reasons=(f"no database at {location}: nothing was ever synced here",))
    try:
        store = await Store.open(location)
    except StoreError as exc:
        return replace(unhealthy, reasons=(f"database: {exc}",))
    try:
        return await _check(store, settings, max_age=max_age, now=now, base=unhealthy)
    except StoreError as exc:
        return replace(unhealthy, reasons=(f"database: {exc}",), opened=True)
    finally:
        await store.close()


async def _check(
    store: Store, settings: Settings, *, max_age: dt.timedelta | None, now: dt.datetime, base: Health
) -> Health:
    """`base` with what the store says: its moment, path and bound kept."""
    reasons: list[str] = []
    last = await store.last_planned_slot()
    due = scheduled_by_now(now, settings)
    alive = last is not None and last.slot >= due
    if not alive:
        reasons.append(_scheduler_reason(last, due, settings, now))

    scope = await store.scope()
    if scope.active_counters == 0:
        reasons.append(_nothing_to_sync(scope))
    paces = {login: planner.pace_of(day, settings, now) for login, day in (await store.login_days(now)).items()}
    stale: list[Stale] = []
    oldest: dt.timedelta | None = None
    for counter in await store.synced_counters():
        age = now - (counter.last_fetched_at or counter.created_at)
        pace = paces.get(counter.quota_login)
        bound = max_age or DEFAULT_INTERVALS * (pace.effective_interval if pace else settings.interval)
        if counter.last_fetched_at is not None:
            oldest = age if oldest is None else max(oldest, age)
        if age > bound:
            stale.append(Stale(counter.id, counter.name, age, bound, counter.last_fetched_at is not None))
    stale.sort(key=lambda s: s.age - s.bound, reverse=True)
    if stale:
        reasons.append(_stale_reason(stale))
    return replace(
        base,
        healthy=not reasons,
        reasons=tuple(reasons),
        opened=True,
        last_slot=last,
        due_slot=due,
        scheduler_alive=alive,
        scope=scope,
        stale=tuple(stale),
        stale_count=len(stale),
        oldest_age=oldest,
    )


def scheduled_by_now(now: dt.datetime, settings: Settings) -> dt.datetime:
    """The latest slot whose tick should have happened: the current one, or while its tick may
    still be on its way (the scheduler's STALL_GRACE), the one before."""
    slot = current_slot(now, settings)
    return slot - settings.interval if now - slot <= STALL_GRACE else slot


def _scheduler_reason(last: PlannedSlot | None, due: dt.datetime, settings: Settings, now: dt.datetime) -> str:
    def local(moment: dt.datetime) -> str:
        return moment.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M %Z")

    if last is None:
        return "no scheduler has planned a slot here yet: start the daemon (metrika-tui --headless) or the console"
    return (
        f"no scheduler planned the {local(due)} slot: the last planned was {local(last.slot)}, "
        f"{span(now - last.planned_at)} ago, by {visible(last.origin)} (is a daemon running, and not paused?)"
    )


def _nothing_to_sync(scope: Scope) -> str:
    if scope.accounts == 0:
        return "nothing to sync: no accounts (add one: metrika-tui accounts add)"
    if scope.revoked_accounts == scope.accounts:
        return (
            f"nothing to sync: every account ({scope.accounts}) is revoked, its token refused "
            f"(metrika-tui accounts login, or accounts add with a new token)"
        )
    return "nothing to sync: no active counter in the live accounts (metrika-tui counters discover, or enable)"


def _stale_reason(stale: list[Stale]) -> str:
    def one(s: Stale) -> str:
        what = f"{span(s.age)} old" if s.synced else f"never synced in {span(s.age)}"
        return f'{s.counter_id} "{visible(s.name)}" {what} (bound {span(s.bound)})'

    named = "; ".join(one(s) for s in stale[:NAMED])
    more = f"; and {len(stale) - NAMED} more" if len(stale) > NAMED else ""
    return f"{len(stale)} counter(s) with data older than the bound: {named}{more}"
