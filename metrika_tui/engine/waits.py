"""Why a pass waits: the words `sync` and `--headless --once` print while nothing runs.

`run_until_idle` notices that none of its pass runs here: its queued jobs wait (a spent
report budget, another quota, a backoff), or other processes hold them (running them, or
stopped while holding their leases). It asks `explain` why, from the results of this
process's jobs that were queued again and from the holders of the rest; `PassWait.line`
says it the same way for both commands, naming each account once and staying short
(quota messages are the API's words, of any length).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from metrika_tui.engine.job import JobResult
from metrika_tui.engine.leases import Holder
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
#: an error or quota message quoted in a reason is cut to this many characters
QUOTED = 100
#: the reasons of one line together; past this, "and N more causes"
WHY_WIDTH = 320


@dataclass(frozen=True)
class PassWait:
    """Nothing of a pass runs here: its next job may start at `until` (a quota, a backoff, a
    dead holder's lease running out), or when other processes finish (`until` None)."""

    until: dt.datetime | None
    seconds: float | None  # from now
    queued: int  # counters of the pass still queued
    reasons: tuple[str, ...]  # one per cause: "report budget of account alice spent (200 per 5 min)"
    beyond: bool = False  # further off than the wait allowed: run_until_idle returns, these stay queued
    #: what each reason is about, whatever its counts: a cause is told once
    causes: frozenset[tuple[object, ...]] = field(default=frozenset(), compare=False)

    @property
    def why(self) -> str:
        shown: list[str] = []
        for n, reason in enumerate(self.reasons):
            if shown and len("; ".join([*shown, reason])) > WHY_WIDTH:
                left = len(self.reasons) - n
                shown.append(f"and {left} more cause{'s' * (left != 1)}")
                break
            shown.append(reason)
        return "; ".join(shown) or "the next queued job"

    def line(self, bound: str) -> str:
        """'waiting 4m 12s: …; 180 counters queued', or past the `bound` ('beyond --max-wait 6m'):
        'not waiting 11h 54m (beyond …): …; 2 counters stay queued'; with no end known:
        'waiting: 3 jobs running in another process (…); 5 counters queued'."""
        counters = f"{self.queued} counter{'s' * (self.queued != 1)}"
        if self.beyond:
            stay = "stays" if self.queued == 1 else "stay"
            return f"not waiting {duration(self.seconds or 0)} ({bound}): {self.why}; {counters} {stay} queued"
        waiting = "waiting" if self.seconds is None else f"waiting {duration(self.seconds)}"
        return f"{waiting}: {self.why}; {counters} queued"


def pass_max_wait(settings: Settings) -> dt.timedelta:
    """How long `sync` waits for a deferred job by default: a report window and a margin."""
    return dt.timedelta(seconds=settings.report_window_seconds) + REPORT_WAIT_MARGIN


def explain(
    waiting: Iterable[tuple[int, JobResult]],
    logins: Mapping[int, str],
    settings: Settings,
    *,
    until: dt.datetime | None,
    now: dt.datetime,
    queued: int,
    beyond: bool,
    holders: Iterable[Holder] = (),
) -> PassWait:
    """The wait, from the other processes holding jobs of the pass (`holders`) and the
    (account, result) of this process's jobs of the pass queued again (another process's are
    counted only): one reason per cause, the holders first, then the soonest cause first;
    each account named once (under its soonest cause)."""
    accounts: dict[tuple[str, str], set[int]] = {}  # cause -> the accounts it holds up
    soonest: dict[tuple[str, str], dt.datetime] = {}
    detail: dict[tuple[str, str], list[str]] = {}  # cause -> the words that came with it
    for account_id, result in waiting:
        if result.run_after is None:  # not queued again: nothing to wait for
            continue
        cause, words = _cause(result)
        soonest[cause] = min(soonest.get(cause, result.run_after), result.run_after)
        accounts.setdefault(cause, set()).add(account_id)
        if words not in detail.setdefault(cause, []):
            detail[cause].append(words)
    reasons: list[str] = []
    causes: set[tuple[object, ...]] = set()
    named: set[str] = set()
    for holder in holders:
        reasons.append(holder.words(settings.tz))
        causes.add(("holder", holder.host, holder.pid, holder.state, holder.until))
    for cause in sorted(accounts, key=soonest.__getitem__):
        names = [logins.get(i, str(i)) for i in sorted(accounts[cause])]
        fresh = [name for name in names if name not in named]
        named.update(fresh)
        reasons.append(_reason(*cause, detail[cause], _accounts(fresh, len(names)), settings))
        causes.add((*cause, until))
    seconds = None if until is None else (until - now).total_seconds()
    return PassWait(until, seconds, queued, tuple(reasons), beyond, frozenset(causes))


def _cause(result: JobResult) -> tuple[tuple[str, str], str]:
    """What a job queued again waits for (our report budget, a quota by its type, a retry),
    and the words that came with it."""
    if result.quota == REPORT_BUDGET:
        return (REPORT_BUDGET, ""), ""
    if result.quota:
        return ("quota", result.quota), result.quota_message or result.quota
    return ("retry", ""), result.error or "an error"


def _reason(kind: str, quota: str, words: list[str], accounts: str, settings: Settings) -> str:
    if kind == REPORT_BUDGET:
        window = settings.report_window_seconds
        per = f"{window // 60} min" if window % 60 == 0 else f"{window} s"
        return f"report budget of {accounts} spent ({settings.report_budget} per {per})"
    others = f" (and {len(words) - 1} other message{'s' * (len(words) > 2)})" if len(words) > 1 else ""
    if kind == "quota":
        return f"quota of {accounts}: {_quoted(words[0])}{others}"
    return f"{accounts} retrying after: {_quoted(words[0])}{others}"


def _quoted(words: str) -> str:
    words = " ".join(words.split())
    return words if len(words) <= QUOTED else words[: QUOTED - 1] + "…"


def _accounts(logins: list[str], of: int) -> str:
    """'account a', 'accounts a, b, c and d', 'accounts a, b, c and 5 more'; of `of` accounts,
    those named under an earlier cause are counted, not named again: 'account c and 1 named
    above', '2 accounts named above'."""
    above = of - len(logins)
    if not logins:
        return f"{above} account{'s' * (above != 1)} named above"
    if len(logins) > NAMED_ACCOUNTS + 1:
        names = [*logins[:NAMED_ACCOUNTS], f"{len(logins) - NAMED_ACCOUNTS} more"]
    else:
        names = list(logins)
    if above:
        names.append(f"{above} named above")
    if len(names) == 1:
        return f"account {names[0]}"
    return f"accounts {', '.join(names[:-1])} and {names[-1]}"
