"""The real API's quotas, kept per client address, per Yandex login and per counter; and a
watch that writes down every request the real API would have refused.

Metrika counts its per-user quotas (requests in flight, report requests per 5 minutes,
requests a day) per login: every token of one login shares them; the 30 requests a second
are counted per client address. Only admitted requests count: a request turned away with a
429 uses up nothing, so a client that backs off gets its full allowance back exactly when
the window says. Time comes from the injected clock, so tests move through windows without
waiting.

The watch (`SimulatorConfig.watch`, the real API's limits by default) judges every arriving
request against the same books whether or not a quota is enforced: a breach is a request
that came while its address, or its login, was already at a limit. A well-behaved client
(or several hosts working one queue) leaves the list empty; a quota switched off in a test
still shows who would have run into it.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from metrika_tui.clock import Clock
from metrika_tui.simulator.config import QuotaConfig
from metrika_tui.simulator.errors import quota

K = TypeVar("K", bound=Hashable)


class Rule(StrEnum):
    """The limit a breach is of."""

    PER_ADDRESS = "requests_per_second_by_address"
    IN_FLIGHT = "parallel_requests_by_login"
    REPORTS = "reports_per_window_by_login"
    PER_DAY = "requests_per_day_by_login"


@dataclass(frozen=True, slots=True)
class Violation:
    """One request the real API would have refused: when (Unix seconds, the simulator's clock),
    which rule, whose (login; None for the per-address rule) and from which address; `seen`
    is what the rule's count already was when it came, `limit` the rule's."""

    at: float
    rule: Rule
    login: str | None
    address: str
    seen: int
    limit: int

    def to_dict(self) -> dict[str, object]:
        return {
            "at": round(self.at, 3),
            "rule": self.rule.value,
            "login": self.login,
            "address": self.address,
            "seen": self.seen,
            "limit": self.limit,
        }


class QuotaKeeper:
    def __init__(
        self,
        config: QuotaConfig,
        clock: Clock,
        *,
        watch: QuotaConfig | None = None,
        on_breach: Callable[[Violation], None] | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.watch = watch or QuotaConfig()
        self._on_breach = on_breach or (lambda _violation: None)
        self.in_flight: dict[str, int] = defaultdict(int)  # by login
        self._by_ip: dict[str, deque[float]] = defaultdict(deque)
        self._reports: dict[str, deque[float]] = defaultdict(deque)  # by login
        self._login_day: dict[str, tuple[int, int]] = {}
        self._counter_day: dict[int, tuple[int, int]] = {}

    def _judge(self, rule: Rule, seen: int, limit: int | None, login: str | None, address: str, now: float) -> None:
        if limit is not None and seen >= limit:
            self._on_breach(Violation(now, rule, login, address, seen, limit))

    def admit_address(self, address: str) -> None:
        """The per-second limit of one client address (checked before anything else)."""
        limit = self.config.per_ip_per_second
        now = self.clock.now().timestamp()
        window = self._by_ip[address]
        while window and window[0] <= now - 1.0:
            window.popleft()
        self._judge(Rule.PER_ADDRESS, len(window), self.watch.per_ip_per_second, None, address, now)
        if limit is not None and len(window) >= limit:
            raise quota("quota_requests_by_ip", f"Too many requests per second from one IP address (limit {limit})")
        window.append(now)

    def admit_user(self, login: str, *, report: bool, counter_ids: Iterable[int] = (), address: str = "") -> None:
        """Daily, report-window and parallel limits of a login; on success the request is in flight."""
        cfg, watch = self.config, self.watch
        moment = self.clock.now()
        now, day = moment.timestamp(), moment.toordinal()  # the clock is UTC: days turn at 00:00 UTC
        used_today = self._used(self._login_day, login, day)
        window = self._reports[login] if report else None
        if window is not None:
            longest = max(cfg.report_window_seconds, watch.report_window_seconds)
            while window and window[0] <= now - longest:
                window.popleft()
        self._judge(Rule.PER_DAY, used_today, watch.per_login_per_day, login, address, now)
        if window is not None:
            self._judge(
                Rule.REPORTS,
                _since(window, now - watch.report_window_seconds),
                watch.reports_per_window,
                login,
                address,
                now,
            )
        self._judge(Rule.IN_FLIGHT, self.in_flight[login], watch.parallel_per_login, login, address, now)
        if cfg.per_login_per_day is not None and used_today >= cfg.per_login_per_day:
            raise quota(
                "quota_requests_by_uid",
                f"Daily quota of {cfg.per_login_per_day} requests per user is exceeded; it resets at 00:00 UTC",
            )
        counter_ids = tuple(counter_ids)
        if cfg.per_counter_per_day is not None:
            for cid in counter_ids:
                if self._used(self._counter_day, cid, day) >= cfg.per_counter_per_day:
                    raise quota(
                        "quota_requests_by_counter_id",
                        f"Daily quota of {cfg.per_counter_per_day} requests for counter {cid} is exceeded",
                    )
        limit = cfg.reports_per_window
        if window is not None and limit is not None and _since(window, now - cfg.report_window_seconds) >= limit:
            raise quota(
                "quota_requests_by_uid",
                f"Reporting API quota is exceeded: at most {limit} report requests "
                f"per {cfg.report_window_seconds / 60:g} minutes per user (the 5-minute report limit)",
            )
        if cfg.parallel_per_login is not None and self.in_flight[login] >= cfg.parallel_per_login:
            raise quota(
                "quota_parallel_requests",
                f"Too many parallel requests for this user (limit {cfg.parallel_per_login})",
            )
        self._login_day[login] = (day, used_today + 1)
        for cid in counter_ids:
            self._counter_day[cid] = (day, self._used(self._counter_day, cid, day) + 1)
        if window is not None:
            window.append(now)
        self.in_flight[login] += 1

    def release(self, login: str) -> None:
        self.in_flight[login] -= 1

    def used_today(self, login: str) -> int:
        """Requests of this login admitted today (UTC)."""
        return self._used(self._login_day, login, self.clock.now().toordinal())

    def report_budget_used(self, login: str) -> int:
        """Report requests of this login inside the current window (for stats and tests)."""
        window = self._reports.get(login, deque())
        return _since(window, self.clock.now().timestamp() - self.config.report_window_seconds)

    @staticmethod
    def _used(table: Mapping[K, tuple[int, int]], key: K, day: int) -> int:
        seen = table.get(key)
        return seen[1] if seen is not None and seen[0] == day else 0


def _since(window: deque[float], horizon: float) -> int:
    """How many moments of `window` (oldest first) are after `horizon`: counted from the newest."""
    count = 0
    for moment in reversed(window):
        if moment <= horizon:
            break
        count += 1
    return count
