"""A snapshot that re-reads only the changed counters equals a full one."""

from __future__ import annotations

import dataclasses

from metrika_tui.simulator import LatencyConfig, World

from .helpers import add_accounts, rig


async def test_a_partial_snapshot_of_the_changed_counters_equals_a_full_one(tmp_path):
    world = World.generate(seed=35, accounts=2, counters_per_account=5)
    async with rig(tmp_path, world, latency=LatencyConfig(kind="fixed", median_ms=1.0)) as r:
        engine = await r.engine(workers=2)
        await add_accounts(engine, world)
        await engine.plan()
        await engine.run_until_idle()
        await engine.stop_workers()  # nothing moves between the two reads but what we change
        base = await engine.snapshot()
        ids = [c.counter_id for c in base.counters]

        await engine.force_sync(ids[0])  # queued
        await engine.set_counter_active(ids[3], False)  # disabled
        partial = await engine.snapshot(changed={ids[0], ids[3]}, base=base)
        full = await engine.snapshot()
        diff = [(a, b) for a, b in zip(partial.counters, full.counters) if a != b]
        assert not diff, diff[:1]
        assert partial.summary == full.summary and partial.queue_depth == full.queue_depth == 1
        assert [c.state.value for c in partial.counters if c.counter_id in (ids[0], ids[3])] == ["queued", "disabled"]


async def test_a_counter_new_since_the_base_means_a_full_read(tmp_path):
    world = World.generate(seed=36, accounts=2, counters_per_account=3)
    async with rig(tmp_path, world, latency=LatencyConfig(kind="fixed", median_ms=1.0)) as r:
        engine = await r.engine(workers=2)
        await add_accounts(engine, world)
        base = await engine.snapshot()
        dropped = base.counters[-1]  # as if it had come after the base was taken
        smaller = dataclasses.replace(base, counters=base.counters[:-1])
        partial = await engine.snapshot(changed={dropped.counter_id}, base=smaller)
        assert [c.counter_id for c in partial.counters] == [c.counter_id for c in base.counters]
