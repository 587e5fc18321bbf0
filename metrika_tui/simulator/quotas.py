"""The real API's quotas, kept per client address, per Yandex login and per counter.

Metrika counts its per-user quotas (requests in flight, report requests per 5 minutes,
requests a day) per login: every token of one login shares them. Only admitted requests count: a request turned away with a 429 uses up nothing, so a
client that backs off gets its full allowance back exactly when the window says.
Time comes from the injected clock, so tests move through windows without waiting.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable

from metrika_tui.clock import Clock
from metrika_tui.simulator.config import QuotaConfig
from metrika_tui.simulator.errors import quota


class QuotaKeeper:
    def __init__(self, config: QuotaConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.in_flight: dict[str, int] = defaultdict(int)  # by login
        self._by_ip: dict[str, deque[float]] = defaultdict(deque)
        self._reports: dict[str, deque[float]] = defaultdict(deque)  # by login
        self._login_day: dict[str, tuple[int, int]] = {}
        self._counter_day: dict[int, tuple[int, int]] = {}

    def admit_address(self, address: str) -> None:
        """The per-second limit of one client address (checked before anything else)."""
        limit = self.config.per_ip_per_second
        if limit is None:
            return
        now = self.clock.now().timestamp()
        window = self._by_ip[address]
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= limit:
            raise quota("quota_requests_by_ip", f"Too many requests per second from one IP address (limit {limit})")
        window.append(now)

    def admit_user(self, login: str, *, report: bool, counter_ids: Iterable[int] = ()) -> None:
        """Daily, report-window and parallel limits of a login; on success the request is in flight."""
        cfg = self.config
        moment = self.clock.now()
        now, day = moment.timestamp(), moment.toordinal()  # the clock is UTC: days turn at 00:00 UTC
        used_today = self._used(self._login_day, login, day)
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
        window = self._reports[login] if report else None
        if window is not None and cfg.reports_per_window is not None:
            while window and window[0] <= now - cfg.report_window_seconds:
                window.popleft()
            if len(window) >= cfg.reports_per_window:
                raise quota(
                    "quota_requests_by_uid",
                    f"Reporting API quota is exceeded: at most {cfg.reports_per_window} report requests "
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
        window = self._reports.get(login, ())
        horizon = self.clock.now().timestamp() - self.config.report_window_seconds
        return sum(1 for t in window if t > horizon)

    @staticmethod
    def _used(table: dict, key, day: int) -> int:
        seen = table.get(key)
        return seen[1] if seen is not None and seen[0] == day else 0
