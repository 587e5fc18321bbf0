"""What this process counts as it happens: API requests and their latency, job runs, passes.

Fed by the client's answer listener, the engine's result and plan listeners and the events
(other processes' too, through the runtime); prometheus_client's own counters and
histograms keep the figures (they are safe to read from the server's thread).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram

from metrika_tui.events import Event, Kind
from metrika_tui.jobs import Settled, Trigger
from metrika_tui.metrika.stats import OUTCOMES

log = logging.getLogger(__name__)

#: seconds: Metrika answers in 0.1-1 s; a request may take up to the 30 s timeout
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: seconds: a pass of a few counters takes seconds, a stretched day's slot the whole slot
PASS_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 43200, 86400)
#: how a job run of this process's workers ended (engine.job.JobResult: queued is split in two)
JOB_RESULTS = ("done", "retry", "deferred", "failed", "revoked", "lost")
#: passes followed at once: older ones are dropped unobserved (a pass that never ends)
MAX_PASSES = 16


class Instruments:
    """The live counters and histograms, registered in `registry`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "metrika_api_requests",
            "Requests this process sent to the Metrika API, by how they ended",
            ["outcome"],
            registry=registry,
        )
        for outcome in OUTCOMES:
            self.requests.labels(outcome)
        self.latency = Histogram(
            "metrika_api_request_duration_seconds",
            "Time from sending a request to its answer (or failure), this process",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.job_runs = Counter(
            "metrika_job_runs", "Job runs of this process's workers, by how they ended", ["result"], registry=registry
        )
        for result in JOB_RESULTS:
            self.job_runs.labels(result)
        self.pass_duration = Histogram(
            "metrika_sync_pass_duration_seconds",
            "From planning a pass (this process) to its last counter done",
            buckets=PASS_BUCKETS,
            registry=registry,
        )
        self.passes = PassTracker(self.pass_duration.observe)

    def on_answer(self, outcome: str, seconds: float) -> None:
        self.requests.labels(outcome).inc()
        self.latency.observe(seconds)

    def on_result(self, job, result) -> None:
        if result.status is Settled.QUEUED:
            self.job_runs.labels("deferred" if result.quota else "retry").inc()
        elif result.status in JOB_RESULTS:
            self.job_runs.labels(result.status).inc()


@dataclass
class _Pass:
    started: float  # monotonic
    pending: dict[int, int]  # counter -> its account
    failed: bool = False


@dataclass
class PassTracker:
    """Follows the passes this process plans until their last counter is done, failed or
    revoked (told by the events, every process's; `reconcile` catches what no event told, a
    job cancelled with its counter disabled). A pass whose every counter synced is a
    successful one; `last_success` is when the latest ended (wall clock, seconds)."""

    observe: Callable[[float], None]
    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    last_success: float | None = None
    _passes: list[_Pass] = field(default_factory=list)

    def planned(self, trigger: Trigger, result) -> None:
        pending = {cid: plan.account_id for plan in result.accounts for cid in plan.queued}
        if pending:
            self._passes = [*self._passes, _Pass(self.monotonic(), pending)][-MAX_PASSES:]
        elif trigger in (Trigger.SCHEDULE, Trigger.STARTUP) and result.slot_taken and not result.skipped_budget:
            self.last_success = self.wall()  # a slot with every counter in sync already

    def event(self, event: Event) -> None:
        if event.kind is Kind.DONE and event.counter_id is not None:
            self._finish({event.counter_id}, failed=set())
        elif event.kind is Kind.FAILED and event.counter_id is not None:
            self._finish({event.counter_id}, failed={event.counter_id})
        elif event.kind is Kind.REVOKED and event.account_id is not None:
            ids = {cid for p in self._passes for cid, aid in p.pending.items() if aid == event.account_id}
            self._finish(ids, failed=ids)

    @property
    def pending(self) -> set[int]:
        return {cid for p in self._passes for cid in p.pending}

    def reconcile(self, live: set[int], failed: set[int]) -> None:
        """The pending counters not in `live` (no queued or running job) are done; `failed`
        says which of them did not sync."""
        gone = self.pending - live
        self._finish(gone, failed=gone & failed)

    def _finish(self, ids: set[int], *, failed: set[int]) -> None:
        if not ids or not self._passes:
            return
        for p in self._passes:
            for cid in ids & p.pending.keys():
                del p.pending[cid]
                p.failed = p.failed or cid in failed
        for p in [p for p in self._passes if not p.pending]:
            self._passes.remove(p)
            self.observe(self.monotonic() - p.started)
            if not p.failed:
                self.last_success = self.wall()


def guarded(listener: Callable[..., None]) -> Callable[..., None]:
    """A listener whose trouble is logged, never passed to the engine that called it."""

    def call(*args) -> None:
        try:
            listener(*args)
        except Exception:
            log.exception("a metrics listener failed")

    return call
