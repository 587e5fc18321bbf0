"""What the client has been doing, for the console header and `sync-status`."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Hashable
from dataclasses import dataclass, field

from metrika_tui.metrika.errors import MetrikaError, QuotaError, TransientError

#: how a request sent can end: an answer we use, a failure worth another try (5xx, a timeout,
#: a dropped connection, a body that is not JSON), a quota answer (420/429), or a refusal
#: that trying again does not change (a bad request, a dead token, no access)
OUTCOMES = ("ok", "retry", "quota", "error")


def outcome_of(exc: MetrikaError) -> str:
    """The outcome (of OUTCOMES) of a request that ended in `exc`."""
    if isinstance(exc, QuotaError):
        return "quota"
    return "retry" if isinstance(exc, TransientError) else "error"


@dataclass(frozen=True, slots=True)
class ClientStats:
    requests_per_second: float  # sent, averaged over the last 10 s
    requests_total: int
    in_flight: int
    retries: int
    quota_errors: int  # quota answers from the server (420/429), retried or not
    quota_by_type: dict[str, int] = field(default_factory=dict)  # error_type -> count
    budget_deferrals: int = 0  # report-budget QuotaErrors raised without asking the server
    #: 0..1 by budget key: ("login", name), or the token of an account whose login is unknown
    report_headroom: dict[Hashable, float] = field(default_factory=dict, repr=False)

    @property
    def worst_headroom(self) -> float:
        """Report budget left for the most used token (1.0 when none was used)."""
        return min(self.report_headroom.values(), default=1.0)


class StatsKeeper:
    """Tallies retries and quota answers; the client adds the live figures at snapshot time."""

    def __init__(self) -> None:
        self._retries = 0
        self._quota: Tally[str] = Tally()
        self._deferrals = 0

    def retried(self, exc: MetrikaError) -> None:
        self._retries += 1

    def quota(self, exc: QuotaError) -> None:
        if exc.status is None:  # our own budget, not the server's answer
            self._deferrals += 1
        else:
            self._quota[exc.error_type or "unknown"] += 1

    def snapshot(
        self,
        *,
        requests_per_second: float,
        requests_total: int,
        in_flight: int,
        report_headroom: dict[Hashable, float],
    ) -> ClientStats:
        return ClientStats(
            requests_per_second=requests_per_second,
            requests_total=requests_total,
            in_flight=in_flight,
            retries=self._retries,
            quota_errors=sum(self._quota.values()),
            quota_by_type=dict(self._quota),
            budget_deferrals=self._deferrals,
            report_headroom=report_headroom,
        )
