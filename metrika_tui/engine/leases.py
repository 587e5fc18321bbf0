"""This process's side of the leases: the heartbeat that keeps its own alive, and taking
back at once the leases of a dead process on this host.

A lease runs out `lease_seconds` after its last renewal, so a process on another host that
dies gives its jobs back within a lease (30 s by default). On this host a dead holder is
certain as soon as its pid is gone (or reused, `processes.liveness`): its leases are ended
then and there, and the jobs are claimed again like any expired lease (counted in `lost`,
not as a failed try).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from metrika_tui.clock import Clock
from metrika_tui.engine.events import EventBus
from metrika_tui.events import Kind, Level
from metrika_tui.processes import Liveness, ProcessId, liveness
from metrika_tui.settings import Settings
from metrika_tui.store import ClaimedJob, HeldJob, Store, StoreError

#: how often this host's lease holders are looked at (one indexed read of the running jobs)
REAP_SECONDS = 1.0
#: a holder on another host that missed this many heartbeats has "stopped answering"
MISSED_HEARTBEATS = 2


class HolderState:
    RUNNING = "running"  # renewing its leases
    STOPPED = "stopped"  # alive (or on another host) but not renewing: taken back when its leases run out
    GONE = "gone"  # dead, on this host: taken back at once


@dataclass(frozen=True, slots=True)
class Holder:
    """Another process holding leases, and what became of it."""

    host: str
    pid: int | None
    jobs: int
    state: str  # HolderState
    until: dt.datetime | None  # when its leases run out

    @property
    def label(self) -> str:
        return f"pid {self.pid} on host {self.host}" if self.pid is not None else f"host {self.host}"

    def words(self, tz: dt.tzinfo) -> str:
        """'12 jobs held by a process that stopped answering (pid 4121 on host x), taken back at 02:40:10'"""
        jobs = f"{self.jobs} job{'s' * (self.jobs != 1)}"
        if self.state == HolderState.GONE:
            return f"{jobs} held by a process that stopped ({self.label}), taken back now"
        if self.state == HolderState.STOPPED:
            return f"{jobs} held by a process that stopped answering ({self.label}){self._back(tz)}"
        return f"{jobs} running in another process ({self.label})"

    def note(self, tz: dt.tzinfo) -> str | None:
        """What `sync-status` says of one job of a holder that stopped; None for one at work."""
        if self.state == HolderState.GONE:
            return f"held by a process that stopped ({self.label}), taken back by the next worker"
        if self.state == HolderState.STOPPED:
            return f"held by a process that stopped answering ({self.label}){self._back(tz)}"
        return None

    def _back(self, tz: dt.tzinfo) -> str:
        return f", taken back at {self.until.astimezone(tz):%H:%M:%S}" if self.until else ""


def holders(held: list[HeldJob], me: ProcessId, now: dt.datetime, heartbeat: float) -> list[Holder] | None:
    """The processes other than this one holding these live leases; None if this one holds one.
    A lease already run out is no one's (it is claimed next), so it is left out."""
    groups = holders_by_job(held, me, now, heartbeat)
    if any(holder is None for holder in groups.values()):
        return None
    return sorted({h for h in groups.values() if h is not None}, key=lambda h: (h.host, h.pid or 0))


def holders_by_job(held: list[HeldJob], me: ProcessId, now: dt.datetime, heartbeat: float) -> dict[int, Holder | None]:
    """Counter id -> the holder of its live lease (None: this process), as `holders`."""
    groups: dict[tuple[str | None, int | None, float | None, str], list[HeldJob]] = {}
    for job in held:
        if job.lease_expires_at is not None and job.lease_expires_at < now:
            continue
        groups.setdefault((job.host_id, job.pid, job.started, job.host), []).append(job)
    out: dict[int, Holder | None] = {}
    for (host_id, pid, started, host), jobs in groups.items():
        mine = (host_id, pid, started) == (me.host_id, me.pid, me.started)
        until = max((j.lease_expires_at for j in jobs if j.lease_expires_at), default=None)
        holder = (
            None
            if mine
            else Holder(host, pid, len(jobs), holder_state(jobs, host_id, pid, started, me, now, heartbeat), until)
        )
        out.update((job.counter_id, holder) for job in jobs)
    return out


def holder_state(
    jobs: list[HeldJob],
    host_id: str | None,
    pid: int | None,
    started: float | None,
    me: ProcessId,
    now: dt.datetime,
    heartbeat: float,
) -> str:
    """On this host the process table says; elsewhere, whether its heartbeat is overdue."""
    if host_id == me.host_id and pid is not None:
        return {
            Liveness.RUNNING: HolderState.RUNNING,
            Liveness.STOPPED: HolderState.STOPPED,
            Liveness.GONE: HolderState.GONE,
        }[liveness(pid, started)]
    last = max((j.heartbeat_at for j in jobs if j.heartbeat_at), default=None)
    overdue = last is None or (now - last).total_seconds() > MISSED_HEARTBEATS * heartbeat
    return HolderState.STOPPED if overdue else HolderState.RUNNING


class LeaseKeeper:
    """Renews the leases of the jobs this process runs and takes back dead neighbours' ones."""

    def __init__(
        self, *, store: Store, clock: Clock, bus: EventBus, settings: Callable[[], Settings], process: ProcessId
    ) -> None:
        self.store, self.clock, self.bus, self._settings, self.process = store, clock, bus, settings, process
        self.held: dict[int, ClaimedJob] = {}
        self._task: asyncio.Task[None] | None = None

    def hold(self, job: ClaimedJob) -> None:
        self.held[job.id] = job

    def release(self, job: ClaimedJob) -> None:
        self.held.pop(job.id, None)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="lease-keeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_beat = loop.time() + self._settings().heartbeat
        while True:
            with contextlib.suppress(StoreError):  # the database is busy or full: try again next round
                await self.take_back_dead()
                if loop.time() >= next_beat:
                    next_beat = loop.time() + self._settings().heartbeat
                    await self.heartbeat()
            await asyncio.sleep(min(REAP_SECONDS, max(0.0, next_beat - loop.time())))

    async def heartbeat(self) -> None:
        """Renew every lease this process holds, in one statement; say which were lost."""
        jobs = list(self.held.values())
        renewed = await self.store.renew_leases(jobs, self.clock.now(), self._settings().lease_seconds)
        for job in jobs:
            if job.id not in renewed and job.id in self.held:
                self.held.pop(job.id)
                self.bus.emit(
                    Kind.WARNING,
                    "lease lost: this process did not renew it in time and another"
                    " worker owns the job now; its result will be refused",
                    level=Level.WARNING,
                    counter_id=job.counter_id,
                    job_id=job.id,
                )

    async def take_back_dead(self) -> int:
        """End the leases of this host's dead processes (a pid gone or reused): their jobs are
        claimed again at once. Returns how many leases were taken back."""
        now = self.clock.now()
        taken = 0
        for pid, started, _ in await self.store.lease_holders(self.process.host_id, now):
            if (pid, started) == (self.process.pid, self.process.started) or pid is None:
                continue
            if liveness(pid, started) is not Liveness.GONE:
                continue
            n = await self.store.expire_leases_of(self.process.host_id, pid, started, now)
            if n:
                taken += n
                gone = Holder(self.process.host, pid, n, HolderState.GONE, now)
                self.bus.emit(
                    Kind.WARNING,
                    gone.words(dt.UTC),
                    level=Level.WARNING,
                    data={"taken_back": n, "holder": f"{self.process.host}:{pid}"},
                )
        return taken
