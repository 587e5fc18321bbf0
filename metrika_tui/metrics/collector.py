"""The scrape-time metrics: the shared figures (figures.Figures) and this process's state,
as Prometheus families. Called from the server's thread; `fetch` brings the figures over
from the event loop. Label values that come from outside (logins) are made visible."""

from __future__ import annotations

import logging
from collections.abc import Callable

from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from metrika_tui import __version__
from metrika_tui.engine.status import CounterState
from metrika_tui.metrics.figures import Figures
from metrika_tui.text import visible

log = logging.getLogger(__name__)

#: seconds: the ages worth telling apart, from a few minutes (hourly syncs) to a week
AGE_BUCKETS = (300, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)
SCHEDULER_STATES = ("running", "paused", "standby", "off")
#: Scheduler.state in the metric's words
_SCHEDULER_WORDS = {"another process plans": "standby"}
ROLES = ("planner", "follower")


class SyncCollector(Collector):
    """`fetch()`: the figures now, or None before the engine is there (or while it stops);
    `engine()`: the engine, for this process's workers and scheduler; `last_success()`: when
    the latest successful pass ended (POSIX seconds), if one did."""

    def __init__(
        self,
        fetch: Callable[[], Figures | None],
        engine: Callable[[], object | None],
        last_success: Callable[[], float | None],
    ) -> None:
        self._fetch, self._engine, self._last_success = fetch, engine, last_success

    def collect(self):
        info = GaugeMetricFamily("metrika_build_info", "metrika-tui's version", labels=["version"])
        info.add_metric([__version__], 1)
        yield info
        engine = self._engine()
        if engine is not None:
            yield from self._process(engine)
        figures = self._fetch()
        if figures is not None:
            yield from self._shared(figures)

    def _process(self, engine):
        pool = engine.pool
        yield GaugeMetricFamily("metrika_workers_busy", "Workers of this process running a job", value=pool.busy)
        yield GaugeMetricFamily("metrika_workers", "Workers of this process", value=pool.size)
        scheduler = engine.scheduler
        state = _SCHEDULER_WORDS.get(scheduler.state, scheduler.state) if scheduler else "off"
        family = GaugeMetricFamily(
            "metrika_scheduler_state", "This process's scheduler: 1 for its state", labels=["state"]
        )
        for name in SCHEDULER_STATES:
            family.add_metric([name], float(name == state))
        yield family
        # planner: its scheduler planned the last slot it ticked (or has not ticked since it started)
        role = "planner" if scheduler is not None and scheduler.last_planned_by_us is not False else "follower"
        family = GaugeMetricFamily(
            "metrika_process_role",
            "1 for this process's role: planner (its scheduler plans "
            "the slots) or follower (another process's does, or it has none)",
            labels=["role"],
        )
        for name in ROLES:
            family.add_metric([name], float(name == role))
        yield family
        if (last := self._last_success()) is not None:
            yield GaugeMetricFamily(
                "metrika_last_successful_pass_timestamp_seconds",
                "When the latest pass this process planned ended with every counter synced",
                value=last,
            )

    def _shared(self, f: Figures):
        now = f.taken_at
        yield GaugeMetricFamily(
            "metrika_database_readable", "1 if the database answered this scrape's reads", value=float(f.read_ok)
        )
        family = GaugeMetricFamily("metrika_counters", "Counters by state (every process's)", labels=["state"])
        for state in CounterState:
            family.add_metric([state.value], f.states.get(state, 0))
        yield family
        family = GaugeMetricFamily(
            "metrika_jobs",
            "Live jobs by status: queued (may run now), deferred (queued for later: a quota, a backoff), running",
            labels=["status"],
        )
        for status in ("queued", "deferred", "running"):
            family.add_metric([status], f.jobs.get(status, 0))
        yield family
        yield GaugeMetricFamily(
            "metrika_queue_depth",
            "Jobs waiting to run, deferred ones included",
            value=f.jobs.get("queued", 0) + f.jobs.get("deferred", 0),
        )
        if (oldest := f.oldest_age(now)) is not None:
            yield GaugeMetricFamily(
                "metrika_data_oldest_age_seconds", "Age of the oldest synced data of an active counter", value=oldest
            )
            yield GaugeMetricFamily(
                "metrika_data_median_age_seconds",
                "Median age of the active counters' synced data",
                value=f.median_age(now),
            )
        ages = f.ages(now)
        buckets = [(str(float(b)), f.at_most(now, b)) for b in AGE_BUCKETS] + [("+Inf", len(ages))]
        yield GaugeHistogramMetricFamily(
            "metrika_data_age_seconds",
            "Active counters by the age of their synced data",
            buckets=buckets,
            gsum_value=sum(ages),
        )
        yield from self._quota(f)

    def _quota(self, f: Figures):
        ratio = GaugeMetricFamily(
            "metrika_quota_used_ratio",
            "Share of a login's quota used: window=day (its daily "
            "requests, every process) or 5m (its report budget, this process)",
            labels=["login", "window"],
        )
        used = GaugeMetricFamily(
            "metrika_quota_requests_used", "Requests a login sent today (UTC), every process", labels=["login"]
        )
        limit = GaugeMetricFamily("metrika_quota_requests_limit", "A login's daily request quota", labels=["login"])
        spent = GaugeMetricFamily(
            "metrika_quota_spent", "1 when the API called a login's daily quota spent", labels=["login"]
        )
        interval = GaugeMetricFamily(
            "metrika_sync_effective_interval_seconds",
            "How often a login's counters are synced: the interval, stretched when its quota cannot keep it",
            labels=["login"],
        )
        for login, pace in sorted(f.paces.items()):
            name = visible(login)
            ratio.add_metric([name, "day"], pace.used / pace.per_day if pace.per_day else 0.0)
            used.add_metric([name], pace.used)
            limit.add_metric([name], pace.per_day)
            spent.add_metric([name], float(pace.spent_until is not None))
            interval.add_metric([name], pace.effective_interval.total_seconds())
        for login, share in sorted(f.report_used.items()):
            ratio.add_metric([visible(login), "5m"], share)
        yield from (ratio, used, limit, spent, interval)
