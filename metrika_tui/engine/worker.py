"""The worker pool: N asyncio tasks that claim jobs from the durable queue and run them.

Workers hold a lease while they run a job, renewed by the pool's heartbeat (`LeaseKeeper`,
which also takes back the leases of dead processes on this host); on stop, running jobs
get a grace period to finish, then are cancelled and their leases handed back, so nothing
is left half-written and another process can take the job at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from typing import TypeVar

from metrika_tui.clock import Clock
from metrika_tui.engine.events import EventBus
from metrika_tui.engine.job import JobResult, run_job
from metrika_tui.engine.leases import LeaseKeeper
from metrika_tui.engine.ports import MetrikaApi
from metrika_tui.events import Kind, Level
from metrika_tui.jobs import Settled
from metrika_tui.processes import ProcessId, this_process
from metrika_tui.settings import Settings
from metrika_tui.store import ClaimedJob, Store, StoreError

#: the idle workers of a pool look at the queue about this often between them (other
#: processes plan too; leases expire; deferred jobs come due), each in its turn; whichever
#: finds work wakes the others
IDLE_POLL_SECONDS = 1.0
#: when the database refuses a result (disk full, locked too long), the pool claims nothing
#: for this long: every job would fetch from the API again only to fail the same way
STORE_PAUSE_SECONDS = 30.0
#: on a store that tells of queued work (PostgreSQL's LISTEN/NOTIFY), one wait for the word
#: lasts this long before it listens again; polling goes on beside it (deferred jobs coming
#: due and leases running out are told by no one)
LISTEN_SECONDS = 30.0

R = TypeVar("R")


class WorkerPool:
    def __init__(
        self,
        *,
        store: Store,
        client: MetrikaApi,
        settings: Callable[[], Settings],
        clock: Clock,
        bus: EventBus,
        on_result: Callable[[ClaimedJob, JobResult], None] | None = None,
        process: ProcessId | None = None,
    ) -> None:
        self.store, self.client, self._settings, self.clock, self.bus = store, client, settings, clock, bus
        self.on_result = on_result
        self.process = process or this_process()
        self.leases = LeaseKeeper(store=store, clock=clock, bus=bus, settings=settings, process=self.process)
        self._tasks: list[asyncio.Task[None]] = []
        self._listener: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._wakes = 0  # how many times wake() was called: a worker compares it across its queue check
        self._stopping = False
        self.busy = 0
        self._idle_workers = 0
        #: the last error of the database refusing a job's result (`run_until_idle` stops on it)
        self.store_error: StoreError | None = None
        self._paused_until = 0.0  # loop time: no claims before it

    @property
    def size(self) -> int:
        return len(self._tasks)

    def start(self, n: int) -> None:
        self._stopping = False
        self.leases.start()
        loop = asyncio.get_running_loop()
        for i in range(len(self._tasks), len(self._tasks) + n):
            owner = f"{self.process.label}:w{i}"
            self._tasks.append(loop.create_task(self._work(owner), name=owner))
        if self._listener is None and self.store.is_postgres:
            self._listener = loop.create_task(self._listen(), name=f"{self.process.label}:listen")

    async def _listen(self) -> None:
        """Wake the idle workers as soon as any process queues jobs (not at their next poll)."""
        while not self._stopping:
            if await self.store.wait_for_work(LISTEN_SECONDS):
                self.wake()

    async def _stop_listening(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None

    def wake(self) -> None:
        """New jobs were queued here: idle workers look now instead of at their next poll."""
        self._wakes += 1
        self._wake.set()

    async def stop(self, grace: float) -> None:
        """Let running jobs finish within `grace` seconds, then cancel (leases are given back)."""
        self._stopping = True
        self.wake()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks.clear()
        await self._stop_listening()
        await self.leases.stop()

    def hurry(self) -> None:
        """Stop now: cancel every worker (a running job's lease is given back as it stops)."""
        self._stopping = True
        for task in [*self._tasks, *filter(None, [self._listener])]:
            task.cancel()

    async def _work(self, owner: str) -> None:
        loop = asyncio.get_running_loop()
        found_nothing = False  # the last look at the queue found nothing to claim
        while not self._stopping:
            settings = self._settings()
            seen = self._wakes
            if (pause := self._paused_until - loop.time()) > 0:
                await self._idle(pause, seen)
                continue
            try:
                job = None
                if await self.store.has_claimable(self.clock.now()):  # idle: read, don't lock
                    job = await self._claim(owner, settings)
            except StoreError as exc:
                self.bus.emit(Kind.ERROR, f"claiming a job failed: {exc}", level=Level.ERROR)
                await self._idle(5 * IDLE_POLL_SECONDS, seen)
                continue
            if job is None:
                found_nothing = True
                await self._idle(self._poll_seconds(), seen)
                continue
            if found_nothing:  # work came from elsewhere (another process, a due deferral): all look
                found_nothing = False
                self.wake()
            await self._run(job, settings)

    async def _claim(self, owner: str, settings: Settings) -> ClaimedJob | None:
        """Claim a job; stopped meanwhile (`hurry`), the claim is let finish and the job it took
        is given back, or its lease would be left behind for its whole length."""
        claim = asyncio.ensure_future(
            self.store.claim_next_job(
                owner, self.clock.now(), settings.lease_seconds, settings.per_token_jobs, process=self.process
            )
        )
        try:
            return await asyncio.shield(claim)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                if (job := await _through_cancels(claim)) is not None:
                    await _through_cancels(asyncio.ensure_future(self.store.release_job(job, now=self.clock.now())))
            raise

    def _poll_seconds(self) -> float:
        """Until an idle worker looks again: the idle workers share one look a second between
        them, jittered so they take turns (30 idle workers used to make 30 reads a second,
        and as many failed claims when every account with queued jobs was at its limit)."""
        return IDLE_POLL_SECONDS * max(1, self._idle_workers) * random.uniform(0.5, 1.5)

    async def _idle(self, seconds: float, seen: int) -> None:
        """Wait for a wake-up or the next poll; a wake-up that came while this worker was
        looking at the queue (after `seen` was read) is not lost: look again at once."""
        if self._wakes != seen:
            return
        self._wake.clear()
        self._idle_workers += 1
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), seconds)
        finally:
            self._idle_workers -= 1

    async def _run(self, job: ClaimedJob, settings: Settings) -> None:
        if job.lost >= settings.max_lost:  # every worker that took it died: it may be what kills them
            await self._give_up_lost(job)
            return
        self.busy += 1
        self.leases.hold(job)
        try:
            result = await run_job(
                job, store=self.store, client=self.client, settings=settings, clock=self.clock, bus=self.bus
            )
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await _through_cancels(asyncio.ensure_future(self.store.release_job(job, now=self.clock.now())))
            self.bus.emit(Kind.INFO, "stopped mid-job; lease given back", counter_id=job.counter_id, job_id=job.id)
            raise
        except StoreError as exc:  # the database failed us (disk full, locked too long)
            self.bus.emit(
                Kind.ERROR,
                f"could not save the result: {exc}",
                level=Level.ERROR,
                counter_id=job.counter_id,
                job_id=job.id,
            )
            self.store_error = exc
            self._paused_until = asyncio.get_running_loop().time() + STORE_PAUSE_SECONDS
            with contextlib.suppress(StoreError):  # give the job back; if even that fails, the lease expires
                await self.store.release_job(job, now=self.clock.now())
            result = JobResult(False, Settled.LOST, error=str(exc))
        except Exception as exc:  # a bug in one job must not take the worker, and the pass, with it
            error = f"internal error: {type(exc).__name__}: {exc}"
            self.bus.emit(Kind.FAILED, error, level=Level.ERROR, counter_id=job.counter_id, job_id=job.id)
            with contextlib.suppress(StoreError):
                await self.store.fail_job(job, now=self.clock.now(), error=error)
            result = JobResult(False, Settled.FAILED, error=error)
        finally:
            self.leases.release(job)
            self.busy -= 1
        if self.on_result:
            self.on_result(job, result)

    async def _give_up_lost(self, job: ClaimedJob) -> None:
        error = f"its worker died {job.lost} times"
        with contextlib.suppress(StoreError):
            if await self.store.fail_job(job, now=self.clock.now(), error=error, count_attempt=False):
                self.bus.emit(
                    Kind.FAILED,
                    error,
                    level=Level.ERROR,
                    counter_id=job.counter_id,
                    account_id=job.account_id,
                    job_id=job.id,
                )
        if self.on_result:
            self.on_result(job, JobResult(False, Settled.FAILED, error=error))


async def _through_cancels(future: asyncio.Future[R]) -> R:
    """Its result, however often the waiting task is cancelled meanwhile (a database write
    that must not be left half-known; bounded by the database's busy timeout)."""
    while True:
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if future.done():
                return future.result()
