"""A counter visible to several accounts (delegated access) belongs to all of them: it is listed
for each, synced once, through the account that found it first while that one lives, and through
another live one when it is revoked, even in the middle of a pass."""

from __future__ import annotations

from metrika_tui.engine.accounts import add_account, revoke_account
from metrika_tui.simulator import World
from metrika_tui.tokens import Token

from .helpers import add_accounts, assert_store_matches_world, rig


def shared_world() -> tuple[World, int]:
    world = World.generate(seed=61, accounts=2, counters_per_account=2)
    first, second = world.accounts
    shared = first.counter_ids[0]
    world.share(shared, second.token)
    return world, shared


async def synced_through(engine, counter_id: int) -> int:
    (row,) = await engine.store.counter_rows(counter_id)
    return row.account_id


async def test_a_shared_counter_belongs_to_every_account_that_sees_it(tmp_path):
    world, shared = shared_world()
    async with rig(tmp_path, world) as r:
        engine = await r.engine()
        ids = await add_accounts(engine, world)
        a, b = (ids[t] for t in world.tokens)

        counts = {acc.id: acc.counters for acc in await engine.store.accounts()}
        assert counts == {a: 2, b: 3}  # the second account's discovery is not lost
        assert (await engine.counter_accounts())[shared] == (a, b)
        assert await synced_through(engine, shared) == a  # the account that found it first

        plan = await engine.plan()
        assert sorted(plan.queued) == sorted(c.id for c in world.counters_of(world.tokens[0])[:2]) + sorted(
            world.accounts[1].counter_ids
        )  # once, not once per account
        outcomes = await engine.run_until_idle()
        assert all(o.ok for o in outcomes) and len(outcomes) == 4
        (job,) = await engine.store.job_history(shared)
        assert job.account_id == a

        # revoked by the user: the shared counter goes on through the other account
        await revoke_account(engine, a)
        assert await synced_through(engine, shared) == b
        states = {c.counter_id: c.state.value for c in (await engine.snapshot()).counters}
        assert states[shared] != "revoked" and states[world.accounts[0].counter_ids[1]] == "revoked"
        plan = await engine.plan(force=True)
        assert shared in plan.queued
        outcomes = {o.counter_id: o for o in await engine.run_until_idle()}
        assert outcomes[shared].ok
        assert (await engine.store.job_history(shared))[0].account_id == b
        await assert_store_matches_world(engine.store, world, shared, r.clock.now())

        # the first account comes back: the counter is synced through it again
        await add_account(engine, Token(world.tokens[0]), user_id=None)
        assert await synced_through(engine, shared) == a


async def test_a_token_that_dies_mid_pass_hands_its_shared_counter_to_the_other_account(tmp_path):
    world, shared = shared_world()
    async with rig(tmp_path, world) as r:
        engine = await r.engine()
        ids = await add_accounts(engine, world)
        r.sim.revoke(world.tokens[0])  # the first account's token dies before the pass reads it
        plan = await engine.plan()

        outcomes = {o.counter_id: o for o in await engine.run_until_idle(set(plan.queued))}

        assert outcomes[shared].ok, outcomes[shared]
        assert not outcomes[world.accounts[0].counter_ids[1]].ok  # not shared: revoked with its account
        assert all(outcomes[cid].ok for cid in world.accounts[1].counter_ids)
        history = await engine.store.job_history(shared)
        assert (history[0].account_id, history[0].status) == (ids[world.tokens[1]], "done")
        assert await engine.store.live_counter_ids() == set()
        await assert_store_matches_world(engine.store, world, shared, r.clock.now())
