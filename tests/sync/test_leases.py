"""Fencing: a worker that stalls past its lease loses the job to another engine, and nothing it
writes afterwards lands."""

from __future__ import annotations

import datetime as dt

from metrika_tui.models import DailyStat, MonthUsers
from metrika_tui.simulator import World

from .helpers import add_accounts, assert_store_matches_world, rig


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
        assert not await stalled.store.record_fetch(held, now=now, daily=bogus, month_users=month,
                                                    raw_pages=late_page, newest_day=today)  # fmt: skip
        assert not await stalled.store.renew_lease(held, now, lease)
        assert await stalled.store.retry_job(held, now=now, run_after=now, error="late", max_attempts=5) == "lost"
        assert not await stalled.store.fail_job(held, now=now, error="late")
        assert not await stalled.store.defer_job(held, run_after=now, reason="late")
        assert not await stalled.store.release_job(held, now=now)

        await assert_store_matches_world(other.store, world, counter_id, r.clock.now())
        assert await other.store.job_history(counter_id) == [job]
        assert await other.store.raw_answer_count(counter_id) == raw_before
        (row,) = await other.store.counter_rows(counter_id)
        assert row.last_error is None and row.job_status is None
