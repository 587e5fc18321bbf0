"""Why a pass waits: the words `sync` and `--headless --once` print while nothing runs.

`run_until_idle` notices that every queued job of its pass waits (a spent report budget,
another quota, a backoff) and asks `explain` why, from the results of this process's jobs
that were queued again; `PassWait.line` says it the same way for both commands.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from metrika_tui.engine.job import JobResult
from metrika_tui.metrika.limits import REPORT_BUDGET
from metrika_tui.settings import Settings
from metrika_tui.timefmt import duration

#: `pass_max_wait`: the report window plus this, so a budget spent at the window's start is
#: waited out (the client's own deferral adds a second's margin to the window)
REPORT_WAIT_MARGIN = dt.timedelta(minutes=1)
#: `on_wait` is not told of a shorter wait (another account's budget frees a moment later)
SHORTEST_TOLD_WAIT = dt.timedelta(seconds=1)
#: accounts named in a wait's reason when there are many, then "and N more"
NAMED_ACCOUNTS = 3


@dataclass(frozen=True)
class PassWait:
    """Nothing of a pass runs: its next job may start only at `until` (a quota, a backoff)."""

    until: dt.datetime
    seconds: float  # from now
    queued: int  # counters of the pass still queued
    reasons: tuple[str, ...]  # one per cause: "report budget of account alice spent (200 per 5 min)"
    beyond: bool = False  # further off than the wait allowed: run_until_idle returns, these stay queued

    @property
    def why(self) -> str:
        return "; ".join(self.reasons) or "the next queued job"

    def line(self, bound: str) -> str:
        """'waiting 4m 12s: …; 180 counters queued', or past the `bound` ('beyond --max-wait 6m'):
        'not waiting 11h 54m (beyond …): …; 2 counters stay queued'."""
        counters = f"{self.queued} counter{'s' * (self.queued != 1)}"
        if self.beyond:
            return f"not waiting {duration(self.seconds)} ({bound}): {self.why}; {counters} stay queued"
        return f"waiting {duration(self.seconds)}: {self.why}; {counters} queued"


def pass_max_wait(settings: Settings) -> dt.timedelta:
    """How long `sync` waits for a deferred job by default: a report window and a margin."""
    return dt.timedelta(seconds=settings.report_window_seconds) + REPORT_WAIT_MARGIN


def explain(
    waiting: Iterable[tuple[int, JobResult]], logins: Mapping[int, str], settings: Settings, *,
    until: dt.datetime, now: dt.datetime, queued: int, beyond: bool,
) -> PassWait:  # fmt: skip
    """The wait, from the (account, result) of this process's jobs of the pass queued again
    (another process's are counted only): one reason per cause, naming its accounts, the
    soonest cause first."""
    accounts: dict[tuple[str, str], set[int]] = {}  # cause -> the accounts it holds up
    soonest: dict[tuple[str, str], dt.datetime] = {}
    for account_id, result in waiting:
        cause = _cause(result)
        soonest[cause] = min(soonest.get(cause, result.run_after), result.run_after)
        accounts.setdefault(cause, set()).add(account_id)
    reasons = tuple(_reason(*cause, [logins.get(i, str(i)) for i in sorted(accounts[cause])], settings)
                    for cause in sorted(accounts, key=soonest.__getitem__))  # fmt: skip
    return PassWait(until, (until - now).total_seconds(), queued, reasons, beyond)


def _cause(result: JobResult) -> tuple[str, str]:
    """What a job queued again waits for: our report budget, another quota, or a retry."""
    if result.quota == REPORT_BUDGET:
        return REPORT_BUDGET, ""
    if result.quota:
        return "quota", result.quota_message or result.quota
    return "retry", result.error or "an error"


def _reason(kind: str, detail: str, logins: list[str], settings: Settings) -> str:
    accounts = _accounts(logins)
    if kind == REPORT_BUDGET:
        window = settings.report_window_seconds
        per = f"{window // 60} min" if window % 60 == 0 else f"{window} s"
        return f"report budget of {accounts} spent ({settings.report_budget} per {per})"
    if kind == "quota":
        return f"quota of {accounts}: {detail}"
    return f"{accounts} retrying after: {detail}"


def _accounts(logins: list[str]) -> str:
    """'account a', 'accounts a, b, c and d', 'accounts a, b, c and 5 more'"""
    if len(logins) == 1:
        return f"account {logins[0]}"
    if len(logins) > NAMED_ACCOUNTS + 1:
        return f"accounts {', '.join(logins[:NAMED_ACCOUNTS])} and {len(logins) - NAMED_ACCOUNTS} more"
    return f"accounts {', '.join(logins[:-1])} and {logins[-1]}"
