"""Fencing: a worker that stalls past its lease loses the job to another engine, and nothing it
writes afterwards lands."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess

from metrika_tui.engine.waits import PassWait
from metrika_tui.models import DailyStat, MonthUsers
from metrika_tui.processes import ProcessId, start_time, this_process
from metrika_tui.simulator import World

from .helpers import NOW, add_accounts, assert_store_matches_world, rig


async def test_a_stalled_workers_job_is_taken_over_after_its_lease_and_its_late_writes_are_refused(tmp_path):
    world = World.generate(seed=34, accounts=1, counters_per_account=1)
    (counter_id,) = world.accounts[0].counter_ids
    async with rig(tmp_path, world) as r:
        stalled, other = await r.engine(), await r.engine()
        await add_accounts(stalled, world)
        await stalled.plan()
        lease = stalled.settings.lease_seconds
        held = await stalled.store.claim_next_job("stalled:w0", r.clock.now(), lease, 3)
        assert held.counter_id == counter_id and held.attempts == 0

        r.clock.advance(lease - 1)
        assert await other.store.claim_next_job("other:w0", r.clock.now(), lease, 3) is None  # still held
        r.clock.advance(2)  # the lease has run out: the stalled worker is taken for dead

        outcomes = await other.run_until_idle()

        assert [(o.counter_id, o.ok) for o in outcomes] == [(counter_id, True)]
        (job,) = await other.store.job_history(counter_id)
        # the lease lost with its worker is counted apart, not as a failed try
        assert (job.id, job.status, job.attempts, job.lost) == (held.id, "done", 0, 1)
        raw_before = await other.store.raw_answer_count(counter_id)

        # the stalled worker wakes up with a made-up result: every write is refused
        today = r.clock.now().date()
        bogus = [DailyStat(today - dt.timedelta(days=1), 999_999, 999_999, 999_999, 1.0, 1.0)]
        month = [MonthUsers(today.replace(day=1), 1)]
        now = r.clock.now()
        late_page = [("daily", {"late": True})]
        assert not await stalled.store.record_fetch(
            held, now=now, daily=bogus, month_users=month, raw_pages=late_page, newest_day=today
        )
        assert not await stalled.store.renew_lease(held, now, lease)
        assert await stalled.store.retry_job(held, now=now, run_after=now, error="late", max_attempts=5) is None
        assert not await stalled.store.fail_job(held, now=now, error="late")
        assert not await stalled.store.defer_job(held, run_after=now, reason="late")
        assert not await stalled.store.release_job(held, now=now)

        await assert_store_matches_world(other.store, world, counter_id, r.clock.now())
        assert await other.store.job_history(counter_id) == [job]
        assert await other.store.raw_answer_count(counter_id) == raw_before
        (row,) = await other.store.counter_rows(counter_id)
        assert row.last_error is None and row.job_status is None


def dead_pid() -> int:
    """The pid of a process that has just ended."""
    ended = subprocess.Popen(["true"])
    ended.wait()
    return ended.pid


async def planned(r, world: World):
    """An engine on the rig with the world's accounts added and a pass queued."""
    engine = await r.engine()
    await add_accounts(engine, world)
    await engine.plan()
    return engine


async def claim_as(engine, holder: ProcessId, now, lease: float = 30, n: int = 1):
    """Claim `n` jobs for `holder`, as its workers would."""
    return [await engine.store.claim_next_job(f"{holder.label}:w{i}", now, lease, 3, process=holder) for i in range(n)]


async def test_a_dead_holder_on_this_host_is_taken_back_at_once_and_counted_as_lost_not_tried(tmp_path):
    world = World.generate(seed=35, accounts=1, counters_per_account=4)
    async with rig(tmp_path, world) as r:
        engine = await planned(r, world)
        me = this_process()
        dead = ProcessId(me.host, me.host_id, dead_pid(), 1000.0)
        reused = ProcessId(me.host, me.host_id, me.pid, me.started - 60)  # our pid, another process's start
        held = [*await claim_as(engine, dead, r.clock.now(), n=2), *await claim_as(engine, reused, r.clock.now())]
        events = []
        engine.bus.subscribe(events.append)

        outcomes = await engine.run_until_idle()  # the clock stands still: the leases never run out

        assert all(o.ok for o in outcomes) and r.clock.now() == NOW
        for job in held:
            (record,) = await engine.store.job_history(job.counter_id)
            assert (record.status, record.attempts, record.lost) == ("done", 0, 1)
        told = [e.message for e in events if "taken_back" in e.data]
        assert sorted(told) == sorted(
            [
                f"2 jobs held by a process that stopped (pid {dead.pid} on host {me.host}), taken back now",
                f"1 job held by a process that stopped (pid {me.pid} on host {me.host}), taken back now",
            ]
        )


async def test_a_live_holder_keeps_its_jobs_and_the_wait_says_who_holds_them(tmp_path):
    world = World.generate(seed=36, accounts=1, counters_per_account=2)
    async with rig(tmp_path, world) as r:
        engine = await planned(r, world)
        me = this_process()
        parent = ProcessId(me.host, me.host_id, os.getppid(), start_time(os.getppid()))
        await claim_as(engine, parent, r.clock.now(), n=2)
        told: list[PassWait] = []

        def on_wait(wait: PassWait) -> None:
            told.append(wait)
            r.set_clock(NOW + dt.timedelta(seconds=31))  # it stops renewing: its leases run out

        outcomes = await engine.run_until_idle(on_wait=on_wait)

        assert all(o.ok for o in outcomes)
        (wait,) = told
        assert wait.until is None and not wait.beyond
        assert wait.reasons == (f"2 jobs running in another process (pid {parent.pid} on host {me.host})",)
        assert wait.line("beyond") == f"waiting: {wait.reasons[0]}; 2 counters queued"


async def test_a_holder_on_another_host_that_stops_answering_is_taken_back_when_its_lease_runs_out(tmp_path):
    world = World.generate(seed=37, accounts=1, counters_per_account=3)
    async with rig(tmp_path, world) as r:
        engine = await planned(r, world)  # a lease of 30 s, renewed every 10 s
        far = ProcessId("far-away", "another-host-id", 4121, 1000.0)
        held = await claim_as(engine, far, r.clock.now(), n=3)
        r.set_clock(NOW + dt.timedelta(seconds=21))  # two heartbeats missed
        told: list[PassWait] = []

        def on_wait(wait: PassWait) -> None:
            told.append(wait)
            r.set_clock(wait.until + dt.timedelta(milliseconds=1))  # a lease is over once past its end

        outcomes = await engine.run_until_idle(on_wait=on_wait)

        assert all(o.ok for o in outcomes)
        (wait,) = told
        back = NOW + dt.timedelta(seconds=30)
        assert wait.until == back and wait.seconds == 9
        assert wait.reasons == (
            "3 jobs held by a process that stopped answering (pid 4121 on host far-away),"
            f" taken back at {back.astimezone(engine.settings.tz):%H:%M:%S}",
        )
        for job in held:
            (record,) = await engine.store.job_history(job.counter_id)
            assert (record.status, record.attempts, record.lost) == ("done", 0, 1)


async def test_a_job_whose_worker_died_max_lost_times_fails_saying_so(tmp_path):
    world = World.generate(seed=38, accounts=1, counters_per_account=1)
    (counter_id,) = world.accounts[0].counter_ids
    async with rig(tmp_path, world) as r:
        engine = await planned(r, world)
        me = this_process()
        for death in range(engine.settings.max_lost):  # 5 workers took it and died
            (job,) = await claim_as(engine, ProcessId(me.host, me.host_id, dead_pid(), 1000.0), r.clock.now())
            assert job.lost == death
            r.clock.advance(31)

        (outcome,) = await engine.run_until_idle()

        assert not outcome.ok and outcome.error == "its worker died 5 times"
        (record,) = await engine.store.job_history(counter_id)
        assert (record.status, record.attempts, record.lost, record.last_error) == ("failed", 0, 5, outcome.error)
        assert r.sim.stats.by_endpoint["data"] == 0  # it was not fetched once more


async def test_a_worker_stopped_in_the_middle_of_its_claim_gives_the_job_back(tmp_path):
    world = World.generate(seed=39, accounts=1, counters_per_account=1)
    async with rig(tmp_path, world) as r:
        engine = await planned(r, world)
        claimed = asyncio.Event()
        real_claim = engine.store.claim_next_job

        async def slow_claim(*args, **kwargs):  # the claim is made, its answer comes late
            job = await real_claim(*args, **kwargs)
            claimed.set()
            await asyncio.sleep(1)
            return job

        engine.store.claim_next_job = slow_claim
        engine.pool.start(1)
        await asyncio.wait_for(claimed.wait(), 5)
        engine.pool.hurry()  # a second stop signal: cancel now
        await engine.pool.stop(grace=0)

        (row,) = await engine.store.counter_rows()
        assert row.job_status == "queued"  # given back, not left leased for 30 s
