"""Two engines (two database connections, two clients) on one database file, working the same
pass at once: one job per counter, no duplicate rows, never more than 3 running jobs per account."""

from __future__ import annotations

import asyncio
from collections import Counter

from metrika_tui.simulator import LatencyConfig, World
from metrika_tui.store import Store

from .helpers import add_accounts, assert_store_matches_world, rig


async def sample_running(store: Store, clock, peaks: Counter, stop: asyncio.Event) -> int:
    """Watch the running jobs per account from a third connection; returns how many samples."""
    samples = 0
    while not stop.is_set():
        for account_id, running in (await store.running_per_account(clock.now())).items():
            peaks[account_id] = max(peaks[account_id], running)
        samples += 1
        await asyncio.sleep(0.002)
    return samples


async def test_two_engines_on_one_file_share_the_pass_within_the_token_limit(tmp_path):
    world = World.generate(seed=33, accounts=2, counters_per_account=8)
    counters = sorted(cid for a in world.accounts for cid in a.counter_ids)
    async with rig(tmp_path, world, latency=LatencyConfig(kind="fixed", median_ms=25.0)) as r:
        # 4 workers each: more than the 6 running jobs two accounts may have, so the limit binds;
        # fewer than 6, so the first engine cannot take every slot and the second works too
        first, second = await r.engine(workers=4), await r.engine(workers=4)
        await add_accounts(first, world)
        watcher = await Store.open(r.db)
        try:
            plans = await asyncio.gather(first.plan(force=True), second.plan(force=True))
            queued = [cid for plan in plans for cid in plan.queued]
            assert sorted(queued) == counters  # each counter queued once, by one of them
            for plan in plans:  # what one did not queue, it found queued by the other
                assert sorted(plan.queued + plan.already_live) == counters

            peaks, stop = Counter(), asyncio.Event()
            sampler = asyncio.create_task(sample_running(watcher, r.clock, peaks, stop))
            try:
                outcomes = await asyncio.wait_for(asyncio.gather(first.run_until_idle(), second.run_until_idle()), 15)
            except TimeoutError:
                outcomes = None
            stop.set()
            samples = await sampler
        finally:
            await watcher.close()

        assert max(peaks.values()) == 3, peaks  # the limit was reached, and never passed
        assert samples > 20
        assert outcomes is not None, "the pass did not finish"
        assert all(o.ok for run in outcomes for o in run)
        stats = r.sim.stats.snapshot()
        assert stats["max_in_flight_per_token"] <= 3, stats
        assert not stats["quota_rejections"], stats
        # both engines did part of the work
        assert first._results and second._results
        assert set(first._results).isdisjoint(second._results)
        assert sorted([*first._results, *second._results]) == counters

        store = first.store
        for cid in counters:
            assert [j.status for j in await store.job_history(cid)] == ["done"]
            await assert_store_matches_world(store, world, cid, r.clock.now())
        counts = await store.table_counts()
        assert counts["jobs"] == len(counters)
        assert counts["daily_stats"] == sum([len(await store.daily_stats(cid)) for cid in counters])


async def test_a_counter_the_other_engine_finished_before_we_waited_counts_as_synced(tmp_path):
    """Two `sync`s at once: the second finds every job queued by the first, which may finish
    them all before the second starts waiting. They are synced, not 'not synced'."""
    world = World.generate(seed=34, accounts=1, counters_per_account=4)
    async with rig(tmp_path, world, latency=LatencyConfig(kind="fixed", median_ms=5.0)) as r:
        first, second = await r.engine(workers=4), await r.engine(workers=4)
        await add_accounts(first, world)
        await first.plan()
        planned_at = second.clock.now()
        plan = await second.plan()
        assert not plan.queued and len(plan.already_live) == 4
        await first.run_until_idle()
        r.clock.advance(1.0)  # the second starts waiting a moment later
        outcomes = await second.run_until_idle(set(plan.already_live), since=planned_at)
        assert [o.ok for o in outcomes] == [True] * 4, outcomes
