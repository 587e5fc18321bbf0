"""A pass and what came of it: the plan, then each counter's `jobs.Outcome`.

`Engine.run_pass` plans and works the queue until the pass is idle; its `PassReport` is what
`sync` and `--headless --once` print, counted by outcome rather than read back from words.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from metrika_tui.engine.planner import Pace
from metrika_tui.engine.waits import PassWait
from metrika_tui.jobs import WAITED_FOR, Outcome
from metrika_tui.store import CounterRow
from metrika_tui.timefmt import duration


@dataclass(frozen=True)
class AccountPlan:
    account_id: int
    user_id: str
    queued: list[int] = field(default_factory=list)
    skipped_recent: list[int] = field(default_factory=list)
    already_live: list[int] = field(default_factory=list)
    skipped_budget: list[int] = field(default_factory=list)  # due, left for later by its login's budget
    login: str = ""  # its quota login

    @property
    def total(self) -> int:
        """Every counter of the account the plan saw."""
        return len(self.queued) + len(self.skipped_recent) + len(self.already_live) + len(self.skipped_budget)


@dataclass(frozen=True)
class PlanResult:
    accounts: list[AccountPlan]
    slot_taken: bool = True
    paces: Mapping[str, Pace] = field(default_factory=dict)  # each login's day as the plan saw it

    @property
    def skipped_budget(self) -> list[int]:
        return [c for a in self.accounts for c in a.skipped_budget]

    @property
    def queued(self) -> list[int]:
        return [c for a in self.accounts for c in a.queued]

    @property
    def skipped_recent(self) -> list[int]:
        return [c for a in self.accounts for c in a.skipped_recent]

    @property
    def already_live(self) -> list[int]:
        return [c for a in self.accounts for c in a.already_live]

    @property
    def total(self) -> int:
        return sum(a.total for a in self.accounts)

    @property
    def waits_for(self) -> set[int]:
        """The counters a pass waits for: queued by this plan or already queued."""
        return {c for a in self.accounts for c in (*a.queued, *a.already_live)}


@dataclass(frozen=True)
class CounterOutcome:
    """What a pass made of one counter; `error` says why one it waited for is not synced."""

    counter_id: int
    account_id: int
    outcome: Outcome
    error: str | None = None
    rows: int = 0  # daily rows its job of this pass wrote

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.SYNCED


def counter_outcome(
    row: CounterRow, *, since: dt.datetime, rows: int = 0, still_queued_for: str | None = None
) -> CounterOutcome:
    """A counter the pass waited for, from its row once the pass ended: synced if it succeeded
    after `since`. `still_queued_for`: what its job waits for, if this process knows."""
    if row.account_revoked:
        return CounterOutcome(row.id, row.account_id, Outcome.REVOKED, "account revoked: token rejected", rows)
    if row.job_status:
        error = "still queued: " + (still_queued_for or "waiting")
        return CounterOutcome(row.id, row.account_id, Outcome.STILL_QUEUED, error, rows)
    if row.last_error is None and row.last_fetched_at is not None and row.last_fetched_at >= since:
        return CounterOutcome(row.id, row.account_id, Outcome.SYNCED, None, rows)
    return CounterOutcome(row.id, row.account_id, Outcome.FAILED, row.last_error or "not synced", rows)


def skipped(plan: PlanResult) -> list[CounterOutcome]:
    """The counters a plan did not queue: in sync, or left for later by their login's quota."""
    return [
        CounterOutcome(cid, account.account_id, outcome)
        for account in plan.accounts
        for outcome, ids in (
            (Outcome.IN_SYNC, account.skipped_recent),
            (Outcome.LEFT_FOR_LATER, account.skipped_budget),
        )
        for cid in ids
    ]


def not_waited(plan: PlanResult) -> list[CounterOutcome]:
    """The counters a plan queued when nobody waits for them (`sync --no-wait`)."""
    return [
        CounterOutcome(cid, account.account_id, Outcome.STILL_QUEUED)
        for account in plan.accounts
        for cid in (*account.queued, *account.already_live)
    ]


class PassProgress(Protocol):
    """What a pass tells while it runs (`Engine.run_pass(progress=...)`)."""

    def planned(self, plan: PlanResult, waiting: bool) -> None:
        """The plan is made; `waiting`: the pass now waits for its counters."""

    def waiting(self, wait: PassWait) -> None:
        """Nothing of the pass runs here, for this reason (`run_until_idle`'s on_wait)."""


@dataclass(frozen=True)
class PassReport:
    """One pass: its plan, and every counter the plan saw once, with its outcome."""

    plan: PlanResult
    counters: tuple[CounterOutcome, ...]
    #: what it waited for, as told; the last one `beyond` if such a wait ended the pass
    waits: tuple[PassWait, ...] = ()
    waited: bool = True  # False: planned only, nobody waited (`sync --no-wait`)
    stopped: bool = False  # a stop was asked (a signal): the rest went back to the queue

    @property
    def slot_taken(self) -> bool:
        """False: another process had planned this schedule slot (nothing was queued)."""
        return self.plan.slot_taken

    @property
    def rows(self) -> int:
        return sum(c.rows for c in self.counters)

    @property
    def counts(self) -> dict[Outcome, int]:
        """How many counters came to each outcome (every outcome, zeros too); they add up to
        `len(counters)`."""
        counts = dict.fromkeys(Outcome, 0)
        for c in self.counters:
            counts[c.outcome] += 1
        return counts

    def count(self, *outcomes: Outcome) -> int:
        return sum(c.outcome in outcomes for c in self.counters)

    def of(self, *outcomes: Outcome) -> tuple[CounterOutcome, ...]:
        return tuple(c for c in self.counters if c.outcome in outcomes)

    @property
    def waited_for(self) -> tuple[CounterOutcome, ...]:
        """The counters the pass queued or found queued, in the store's order."""
        return self.of(*WAITED_FOR)

    @property
    def unsynced(self) -> tuple[CounterOutcome, ...]:
        """Of those, the ones not synced: failed, revoked or still queued."""
        return tuple(c for c in self.waited_for if not c.ok)

    @property
    def ended_by(self) -> PassWait | None:
        """The wait beyond the pass's bound that ended it, if one did (those counters stay queued)."""
        return self.waits[-1] if self.waits and self.waits[-1].beyond else None

    @property
    def next_run_in(self) -> str:
        """When the next of the counters left queued by `ended_by` may run ('11h 54m')."""
        return duration(self.ended_by.seconds or 0) if self.ended_by else ""
