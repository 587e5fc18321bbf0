"""Which counters a plan queues, and when they run: the schedule's due rule inside each
Yandex login's daily quota.

Metrika counts its quotas per login (5,000 requests a day, reset at 00:00 UTC). A login
whose counters need more than that at the configured interval is synced as often as its
quota allows, evenly over the day, instead of greedily until the quota is gone and then not
at all until midnight. The rules:

- Due: a counter is due at a plan's moment when its last success was planned at least half
  an interval before it (`DUE_SHARE`). A slot's jobs are planned for the slot itself, so
  every counter a pass synced is due at the next slot however long the pass took, while a
  counter force-synced moments before a slot is not read again needlessly.
- Budget: each login's day is `requests_per_day` less the reserve (`reserve_percent`, kept
  for force-syncs); what its live jobs will spend counts as spent. A counter never synced is
  taken as soon as the budget left allows (its first data is worth the most). Refreshes, the
  oldest data first, take the even share of what is left: the budget left over the slots
  left until the reset. Where that covers every due counter nothing changes; where it does
  not, the login's interval is stretched, and a slot's refreshes run one by one at the day's
  even pace within the slot, so that each counter's data ages evenly.
- A login the server called spent (a daily-quota answer) plans nothing until the reset.

How a plan spends is its `PlanMode`; the store runs `choose` inside its planning transaction.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from operator import attrgetter
from typing import Protocol, TypeVar

from metrika_tui.engine.scheduler import current_slot, next_slot_after
from metrika_tui.engine.window import steady_cost, sync_cost
from metrika_tui.settings import Settings
from metrika_tui.store.rows import CounterRow, LoginDay, NewJob, PlanCandidate, PlanDecision
from metrika_tui.store.store import quota_day
from metrika_tui.timefmt import span

#: a counter is due when its last success was planned this share of an interval ago or more
DUE_SHARE = 0.5
#: a pace's stretch is told again when the effective interval moves by more than this share
RETELL_SHARE = 0.1
#: how late a slot's tick may plan a counter before the counter shows OVERDUE
OVERDUE_GRACE = dt.timedelta(minutes=2)
DAY = dt.timedelta(days=1)


class _Synced(Protocol):
    @property
    def last_fetched_at(self) -> dt.datetime | None: ...


S = TypeVar("S", bound=_Synced)


class PlanMode(StrEnum):
    """How much of a login's budget a plan may spend, and when its jobs run."""

    PACED = "paced"  # a slot, a start-up's catch-up: the even share; stretched, at the day's even pace
    PACED_NOW = "paced-now"  # sync, --once: the even share, run at once
    FITS = "fits"  # sync --force: whatever fits in the budget left, never the reserve
    RESERVE = "reserve"  # one counter forced by hand: runs at once, from the reserve


@dataclass(frozen=True, slots=True)
class Pace:
    """One login's day: what its counters need, what its quota allows, how often each is synced."""

    login: str
    counters: int
    per_day: int  # the login's daily quota
    budget: int  # the day's quota less the reserve: what planning spends
    used: int  # requests sent today
    committed: int  # what the live jobs will spend before the reset
    resets_at: dt.datetime
    spent_until: dt.datetime | None  # the server called the day spent
    paced_until: dt.datetime | None  # when the last paced refresh of today was planned to run
    interval: dt.timedelta  # the configured one
    effective_interval: dt.timedelta  # how often each counter can be synced, the rest of today
    need_per_day: int  # requests a day the counters need at the configured interval

    @property
    def stretched(self) -> bool:
        return self.effective_interval > self.interval

    def left(self, now: dt.datetime, *, reserve_too: bool = False) -> int:
        """Requests still free today for new jobs (`reserve_too`: the reserve as well)."""
        if self.spent_until is not None and self.spent_until > now:
            return 0
        total = self.per_day if reserve_too else self.budget
        return max(0, total - self.used - self.committed)

    def message(self) -> str:
        """'login agency-1: 500 counters need 12,000 requests a day at every 60 min; its quota
        allows 4,750: each counter every 2h 32m'"""
        every = _minutes(self.interval)
        if not self.stretched:
            return f"login {self.login}: its quota allows every counter every {every} again"
        return (
            f"login {self.login}: {self.counters:,} counters need {self.need_per_day:,} requests a day at"
            f" every {every}; its quota allows {self.budget:,}: each counter every"
            f" {span(self.effective_interval)}"
        )


def pace_of(day: LoginDay, settings: Settings, now: dt.datetime) -> Pace:
    """How often the login's counters can be synced for the rest of its day."""
    interval = settings.interval
    per_day = settings.requests_per_day
    budget = per_day - settings.reserve_requests
    _, resets_at = quota_day(now)
    cost = steady_cost(settings)
    need = math.ceil(day.counters * cost * (DAY / interval))
    spent = day.spent_until is not None and day.spent_until > now
    available = 0 if spent else budget - day.used
    left_today = resets_at - now
    steady = _steady_interval(day.counters, cost, budget, interval)  # what a whole day's quota allows
    if day.counters == 0:
        effective = interval
    elif available <= 0 or budget <= 0:  # nothing until the reset, then the steady pace
        effective = left_today + steady
    else:  # and no better than what is left of today allows (another program may have spent some)
        effective = max(steady, left_today * (day.counters * cost / available))
    return Pace(
        login=day.login,
        counters=day.counters,
        per_day=per_day,
        budget=budget,
        used=day.used,
        committed=day.committed,
        resets_at=resets_at,
        spent_until=day.spent_until if spent else None,
        paced_until=day.paced_until,
        interval=interval,
        effective_interval=effective,
        need_per_day=need,
    )


def _steady_interval(counters: int, cost: int, budget: int, interval: dt.timedelta) -> dt.timedelta:
    if budget <= 0:
        return DAY
    return max(interval, DAY * (counters * cost / budget))


def due_before(moment: dt.datetime, interval: dt.timedelta) -> dt.datetime:
    """The schedule's rule: a counter is due at `moment` if never synced, or if its last success
    was planned at or before this (half an interval earlier)."""
    return moment - interval * DUE_SHARE


def is_due(candidate: PlanCandidate, cutoff: dt.datetime) -> bool:
    planned = candidate.synced_for or candidate.last_fetched_at
    return planned is None or planned <= cutoff


def next_due_slot(synced_for: dt.datetime | None, settings: Settings, now: dt.datetime) -> dt.datetime:
    """The first slot at which the schedule finds the counter due (now, if never synced)."""
    if synced_for is None:
        return now
    due_from = synced_for + settings.interval * DUE_SHARE
    slot = current_slot(due_from, settings)
    return slot if slot >= due_from else next_slot_after(due_from, settings)


def oldest_first(items: Iterable[S], id_of: Callable[[S], int] = attrgetter("counter_id")) -> list[S]:
    """Never synced first (in the given order), then the oldest data first: the order a
    login's counters are planned in. `items` is read once (a generator will do)."""
    fresh: list[S] = []
    synced: list[tuple[dt.datetime, int, S]] = []
    for c in items:
        if c.last_fetched_at is None:
            fresh.append(c)
        else:
            synced.append((c.last_fetched_at, id_of(c), c))
    synced.sort(key=lambda entry: entry[:2])
    return fresh + [c for _, _, c in synced]


@dataclass
class _Choice:
    queue: list[NewJob] = field(default_factory=list)
    recent: list[tuple[int, int]] = field(default_factory=list)
    budget: list[tuple[int, int]] = field(default_factory=list)
    live: list[tuple[int, int]] = field(default_factory=list)
    paced_until: dict[str, dt.datetime] = field(default_factory=dict)


def choose(
    candidates: list[PlanCandidate],
    days: Mapping[str, LoginDay],
    *,
    settings: Settings,
    now: dt.datetime,
    moment: dt.datetime,
    mode: PlanMode,
    force: bool = False,
    spread_until: dt.datetime | None = None,
) -> PlanDecision:
    """The plan: which candidates to queue, and when each runs.

    `moment` is what the plan is for (a slot, or now): the due rule's reference, and what
    the jobs are planned for. `spread_until`: in PACED mode, a stretched login's refreshes
    run at the day's even pace from now until then (the next slot)."""
    by_login: dict[str, list[PlanCandidate]] = {}
    for c in candidates:
        by_login.setdefault(c.login, []).append(c)
    cutoff = due_before(moment, settings.interval)
    choice = _Choice()
    paces: dict[str, Pace] = {}
    for login, group in by_login.items():
        pace = paces[login] = pace_of(days.get(login) or LoginDay(login), settings, now)
        waiting = []
        for c in group:
            if c.live:
                choice.live.append((c.counter_id, c.account_id))
            elif force or is_due(c, cutoff):
                waiting.append(c)
            else:
                choice.recent.append((c.counter_id, c.account_id))
        _choose_for_login(
            oldest_first(waiting),
            pace,
            choice,
            settings=settings,
            now=now,
            moment=moment,
            mode=mode,
            spread_until=spread_until,
        )
    for login, day in days.items():  # logins with no candidate still have a pace to show
        paces.setdefault(login, pace_of(day, settings, now))
    return PlanDecision(choice.queue, choice.recent, choice.budget, choice.live, paces, choice.paced_until)


def _choose_for_login(
    ordered: list[PlanCandidate],
    pace: Pace,
    choice: _Choice,
    *,
    settings: Settings,
    now: dt.datetime,
    moment: dt.datetime,
    mode: PlanMode,
    spread_until: dt.datetime | None,
) -> None:
    def job(c: PlanCandidate, cost: int, run_after: dt.datetime) -> NewJob:
        return NewJob(c.counter_id, c.account_id, c.login, cost, run_after, moment)

    costs = [sync_cost(c.last_fetched_day, c.time_zone, settings, now) for c in ordered]
    if mode is PlanMode.RESERVE:  # asked for by hand: at once, from the reserve (at the reset if spent)
        start = max(now, pace.spent_until or now)
        choice.queue.extend(job(c, cost, start) for c, cost in zip(ordered, costs))
        return
    left = pace.left(now)
    refreshes: list[tuple[PlanCandidate, int]] = []
    for c, cost in zip(ordered, costs):
        if c.last_fetched_at is None and cost <= left:  # first data: as soon as the budget allows
            choice.queue.append(job(c, cost, now))
            left -= cost
        elif c.last_fetched_at is not None:
            refreshes.append((c, cost))
        else:
            choice.budget.append((c.counter_id, c.account_id))
    if mode is PlanMode.FITS:
        taken = _while_it_fits(refreshes, left, share=left)
    else:  # the even share: the budget left over the plans left today, rounded to the nearest request
        taken = _while_it_fits(refreshes, left, share=left / slots_left(now, pace.resets_at, settings.interval))
    if mode is PlanMode.PACED and spread_until is not None and len(taken) < len(refreshes):
        taken = _at_the_days_pace(refreshes, left, pace, now=now, until=spread_until, choice=choice, job=job)
    else:
        choice.queue.extend(job(c, cost, now) for c, cost in taken)
    choice.budget.extend((c.counter_id, c.account_id) for c, _ in refreshes[len(taken) :])


Refresh = tuple[PlanCandidate, int]  # a synced counter to plan again, and what it costs


def _while_it_fits(refreshes: list[Refresh], left: int, *, share: float) -> list[Refresh]:
    """The first refreshes whose costs fit in `left` and come to `share`, rounded to the nearest
    request (what one plan spends over or under its share, the next plans' shares make up: each
    is worked out again from what is left)."""
    spent = 0
    taken: list[Refresh] = []
    for c, cost in refreshes:
        if spent + cost > left or spent + cost / 2 > share:
            break
        taken.append((c, cost))
        spent += cost
    return taken


def _at_the_days_pace(
    refreshes: list[Refresh],
    left: int,
    pace: Pace,
    *,
    now: dt.datetime,
    until: dt.datetime,
    choice: _Choice,
    job: Callable[[PlanCandidate, int, dt.datetime], NewJob],
) -> list[Refresh]:
    """A stretched login's refreshes, one at a time at the day's even pace (a request every
    `pace_gap`), from where the last plan's left off (`paced_until`), up to the next plan: each
    counter's data ages evenly, however the day's budget divides into slots."""
    gap = pace_gap(pace, now)
    moment = max(now, pace.paced_until + gap) if pace.paced_until else now
    spent = 0
    taken: list[Refresh] = []
    for c, cost in refreshes:
        if moment >= until or spent + cost > left:
            break
        choice.queue.append(job(c, cost, moment))
        choice.paced_until[pace.login] = moment
        taken.append((c, cost))
        spent += cost
        moment += gap * cost
    return taken


def pace_gap(pace: Pace, now: dt.datetime) -> dt.timedelta:
    """The time between two of the login's requests that spreads its budget left evenly until the reset."""
    return (pace.resets_at - now) / max(pace.left(now), 1)


def slots_left(now: dt.datetime, resets_at: dt.datetime, interval: dt.timedelta) -> int:
    """How many plans of the schedule fall in what is left of the day, this one included."""
    return max(1, math.ceil((resets_at - now) / interval))


def _minutes(delta: dt.timedelta) -> str:
    minutes = delta.total_seconds() / 60
    return f"{minutes:g} min" if minutes < 120 else span(delta)


def when_next(
    rows: Iterable[CounterRow], paces: Mapping[str, Pace], settings: Settings, now: dt.datetime
) -> dict[int, tuple[dt.datetime | None, dt.datetime | None]]:
    """Counter id -> (when it will be synced next, when it is OVERDUE if not queued by then).

    Within its quota a counter is next synced at the slot the due rule names. A stretched
    login's counters are projected along its plan: in the planning order, one at each step of
    the day's even pace."""
    rows = list(rows)  # read once per stretched login below
    out = {row.id: when_next_one(row, paces.get(row.quota_login), settings, now) for row in rows}
    for login, pace in paces.items():
        if not pace.stretched:
            continue
        waiting = oldest_first((r for r in rows if r.quota_login == login and r.job_status is None), attrgetter("id"))
        gap = pace_gap(pace, now) * steady_cost(settings)
        moment = max(next_slot_after(now, settings), (pace.paced_until + gap) if pace.paced_until else now)
        for row in waiting:  # the next plan starts where the last left off, a step each
            if row.last_fetched_at is not None:
                out[row.id] = (max(moment, next_due_slot(row.synced_for, settings, now)), out[row.id][1])
            moment += gap
    return out


def when_next_one(
    row: CounterRow, pace: Pace | None, settings: Settings, now: dt.datetime
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """`when_next` of one counter, without the projection along its login's plan (a stretched
    login's counter: a stretched interval after its last sync)."""
    if row.last_fetched_at is None:
        return None, None
    if pace is not None and pace.stretched:
        after = max(next_slot_after(now, settings), row.last_fetched_at + pace.effective_interval)
        return after, row.last_fetched_at + pace.effective_interval + settings.interval + OVERDUE_GRACE
    slot = next_due_slot(row.synced_for or row.last_fetched_at, settings, now)
    return slot, slot + OVERDUE_GRACE
