"""How a pass settles what the API throws at it: a dead token, daily quotas, transient faults,
a counter out of reach. Real engine, real simulator, one manual clock."""

from __future__ import annotations

import datetime as dt

import pytest

from metrika_tui.engine.events import Kind
from metrika_tui.simulator import FaultConfig, LatencyConfig, QuotaConfig, World

from .helpers import add_accounts, assert_store_matches_world, clock_follows_the_queue, record_events, rig


async def test_a_token_revoked_mid_pass_stops_its_account_and_the_others_finish(tmp_path):
    world = World.generate(seed=35, accounts=3, counters_per_account=6)
    doomed, *others = world.accounts
    async with rig(tmp_path, world, latency=LatencyConfig(kind="fixed", median_ms=10.0)) as r:
        engine = await r.engine(workers=6)
        ids = await add_accounts(engine, world)
        doomed_id = ids[doomed.token]

        def revoke_after_its_first_success(event):
            if event.kind is Kind.DONE and event.account_id == doomed_id:
                r.sim.revoke(doomed.token)

        engine.bus.subscribe(revoke_after_its_first_success)
        events = record_events(engine)
        await engine.plan()
        outcomes = {o.counter_id: o for o in await engine.run_until_idle()}

        accounts = {a.id: a for a in await engine.store.accounts()}
        assert accounts[doomed_id].revoked and "Invalid oauth_token" in accounts[doomed_id].revoked_reason
        assert [a.revoked for a in accounts.values() if a.id != doomed_id] == [False] * len(others)
        assert [e.account_id for e in events if e.kind is Kind.REVOKED] == [doomed_id]

        # its jobs stopped: none left live, the unstarted ones cancelled, none failed
        statuses = {cid: [j.status for j in await engine.store.job_history(cid)] for cid in doomed.counter_ids}
        rows = {row.id: row for row in await engine.store.counter_rows()}
        assert all(rows[cid].job_status is None for cid in doomed.counter_ids)
        done = [cid for cid, s in statuses.items() if s == ["done"]]
        assert done and len(done) < len(doomed.counter_ids)
        assert all(s in (["done"], ["cancelled"], []) for s in statuses.values()), statuses
        # only the jobs running when the token died met the refusal: at most the 3 an account may run
        assert 1 <= r.sim.stats.errors["invalid_token"] <= 3
        assert all(not outcomes[cid].ok and "revoked" in outcomes[cid].error
                   for cid in doomed.counter_ids if cid not in done)  # fmt: skip
        snapshot = {c.counter_id: c.state.value for c in (await engine.snapshot()).counters}
        assert {snapshot[cid] for cid in doomed.counter_ids} == {"revoked"}

        for account in others:
            for cid in account.counter_ids:
                assert outcomes[cid].ok and snapshot[cid] == "ok"
                await assert_store_matches_world(engine.store, world, cid, r.clock.now())
        # a plan leaves the revoked account out
        again = await engine.plan(force=True)
        assert not set(again.queued) & set(doomed.counter_ids)
