"""A full sync of a world with several accounts: the store holds exactly what the world holds,
and syncing it all again changes nothing."""

from __future__ import annotations

from metrika_tui.simulator import World

from .helpers import NOW, add_accounts, assert_store_matches_world, rig


def all_counters(world: World) -> list[int]:
    return sorted(cid for account in world.accounts for cid in account.counter_ids)


async def dump(store, counter_ids: list[int]) -> dict[int, tuple]:
    return {cid: (await store.daily_stats(cid), await store.monthly_stats(cid)) for cid in counter_ids}


async def test_full_sync_stores_the_worlds_daily_and_monthly_figures(tmp_path):
    world = World.generate(seed=31, accounts=3, counters_per_account=3)
    async with rig(tmp_path, world) as r:
        engine = await r.engine()
        await add_accounts(engine, world)
        plan = await engine.plan()
        assert sorted(plan.queued) == all_counters(world) and not plan.skipped_recent
        assert len(plan.accounts) == 3

        outcomes = await engine.run_until_idle()

        assert [(o.counter_id, o.ok, o.error) for o in outcomes] == [(c, True, None) for c in all_counters(world)]
        fewer_users_than_summed = 0
        for cid in all_counters(world):
            fewer_users_than_summed += await assert_store_matches_world(engine.store, world, cid, r.clock.now())
            assert await engine.store.raw_answer_count(cid) >= 2  # the daily and the monthly answer
        assert fewer_users_than_summed >= len(all_counters(world))  # at least one such month per counter
        snapshot = await engine.snapshot()
        assert {c.state.value for c in snapshot.counters} == {"ok"}
        assert snapshot.summary.in_sync == len(all_counters(world))


async def test_a_forced_second_sync_changes_nothing(tmp_path):
    world = World.generate(seed=32, accounts=2, counters_per_account=3)
    counters = all_counters(world)
    async with rig(tmp_path, world) as r:
        engine = await r.engine()
        await add_accounts(engine, world)
        await engine.plan()
        assert all(o.ok for o in await engine.run_until_idle())
        before, counts_before = await dump(engine.store, counters), await engine.store.table_counts()

        again = await engine.plan(force=True)
        assert sorted(again.queued) == counters
        assert all(o.ok for o in await engine.run_until_idle())

        assert await dump(engine.store, counters) == before
        counts_after = await engine.store.table_counts()
        for table in ("accounts", "counters", "daily_stats", "monthly_stats"):
            assert counts_after[table] == counts_before[table], table
        assert counts_after["jobs"] == counts_before["jobs"] + len(counters)  # one more job each, no more
        for cid in counters:
            assert [j.status for j in await engine.store.job_history(cid)] == ["done", "done"]
            await assert_store_matches_world(engine.store, world, cid, r.clock.now())


async def test_each_sync_run_is_written_whole_when_its_last_job_settles(tmp_path):
    world = World.generate(seed=33, accounts=2, counters_per_account=3)
    counters = all_counters(world)
    async with rig(tmp_path, world) as r:
        engine = await r.engine()
        await add_accounts(engine, world)
        await engine.plan(trigger="sync")
        assert await runs(engine) == [("sync", 6, 0, None, None, None)]  # planned, nothing settled yet
        assert all(o.ok for o in await engine.run_until_idle())
        r.clock.advance(60)
        await engine.plan(trigger="sync")  # nothing is due: finished as it starts
        await engine.set_counter_active(counters[0], False)
        r.sim.revoke(world.tokens[1])
        await engine.plan(force=True, trigger="force")
        outcomes = await engine.run_until_idle()

        first, idle, forced = await runs(engine)
        assert first == ("sync", 6, 0, NOW.timestamp(), 6, 0)  # finished with its last job
        now = r.clock.now().timestamp()
        assert idle == ("sync", 0, 6, now, 0, 0)
        # the forced run: 5 counters (one disabled); account 2's token died, its 3 jobs cancelled
        assert forced == ("force", 5, 0, now, 2, 0) and sum(o.ok for o in outcomes) == 2


async def runs(engine) -> list[tuple]:
    """(trigger, queued, skipped, finished_at, synced, failed) of every sync run, oldest first."""
    rows = await engine.store.db.fetchall(
        "SELECT trigger, queued, skipped, finished_at, synced, failed FROM sync_runs ORDER BY id"
    )
    return [tuple(row) for row in rows]
